package opa

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/viper"

	"github.com/opa-stack/opa-go/internal/settings"
)

// LoadConfig builds a Config the way opa-stack's dynaconf setup does. A nil
// v means viper.New().
//
// # Layers
//
// Settings come from three layers; a later one overrides an earlier one:
//
//  1. Whatever v already holds (v.AllSettings(): its defaults, config files,
//     Set values, and so on), with source "viper" in errors.
//  2. Settings files: every *.yaml, *.yml, *.json and *.toml file directly
//     in the directory named by OPA_SETTINGS_DIR (DefaultSettingsDir,
//     "/data/settings", when unset or empty), hidden names skipped, sorted
//     by name, with files holding ".local." in the name after all others
//     (sorted among themselves). A missing directory means no files; a
//     directory that cannot be listed, or a file that cannot be read or
//     parsed, is an error naming it. The directory and each file must pass
//     the permission rule (see Config.AllowInsecurePermissions) before they
//     are read, since they decide which code runs. The top level of a file holds
//     environments: from each file in turn, the "default" section applies,
//     then the section named by the ENV variable ("development" when unset;
//     compared case-insensitively), then "global". Other top-level keys are
//     ignored.
//  3. Environment variables named OPA_KEY, except OPA_SETTINGS_DIR. "__"
//     nests: OPA_OPTIONAL_COMPONENTS__REDIS__LOAD=no sets LOAD of the redis
//     component and keeps the rest of OPTIONAL_COMPONENTS. Variables apply
//     in key order, so OPA_OPTIONAL_COMPONENTS (one JSON object setting all
//     components) comes before the nested ones that refine it. A value
//     "[...]" or "{...}" is JSON; "@merge X" merges X (JSON, or items
//     separated by commas, or one value) into the lower layers; "@str X" is
//     the string X ("@int", "@float", "@bool", "@json" and "@none" convert
//     likewise); true and false (any case) are booleans; integers are
//     integers; anything else is the string itself.
//
// Keys are case-insensitive (the docs spell them upper-case); two keys of
// one file section or JSON value that differ only in case are an error
// (viper folds such keys of its own settings before LoadConfig sees them).
//
// # Merging
//
// When a layer sets a key that a lower layer set too, the new value
// replaces the old one, except:
//
//   - a list holding the element "dynaconf_merge" is appended to the lower
//     list (the marker is dropped; a lower single value counts as a list);
//   - a map holding "dynaconf_merge: true" is merged into the lower map all
//     the way down, as dynaconf's object_merge does: every map below it
//     merges key by key and every list below it is appended, marker or not;
//     scalars replace (the marker is dropped);
//   - a value given with "@merge" merges as if it held the marker;
//   - in a section (or a whole file) holding "dynaconf_merge: true", every
//     key merges as if it held the marker.
//
// # Decoding
//
// Some keys belong to the library: every key starting with PLUGIN_,
// OPTIONAL_COMPONENTS (and LOAD, DRIVER and OPTS in each component) and
// COMPONENT_TIMEOUT. A key there that the library does not know, in any
// layer, is an error naming the layer that set it and the closest known key
// ("unknown setting PLUGIN_WHITELIST_TAG (did you mean
// PLUGIN_WHITELIST_TAGS?)"). Every other key is the host's and is left
// alone; so are the plugin names of PLUGIN_SHA256 and the keys of OPTS
// (see Driver.Opts). A list setting (PLUGIN_PATHS and the
// _LIST and _TAGS filters) given a single value is a one-element list ("" is
// an empty one); its elements must be scalars. A string setting given a
// list or a map is an error. COMPONENT_TIMEOUT is a Go duration ("5s") or a
// number of seconds. In OPTIONAL_COMPONENTS, names are lower-cased; LOAD is
// yes, no or auto in any case (true and false mean yes and no; missing
// means auto) and is stored as "yes", "no" or "auto"; DRIVER is required
// unless LOAD is no; OPTS must be a map. PLUGIN_ON_ERROR is fail or skip;
// PLUGIN_ALLOW_INSECURE_PERMISSIONS and PLUGIN_REQUIRE_SHA256 are booleans
// (true/false, yes/no, 1/0); PLUGIN_ALLOW_INSECURE_PERMISSIONS can only be
// set by its OPA_ variable, and is an error in any other layer (a settings
// file must not switch off the check of its own permissions); PLUGIN_SHA256 is a map of plugin name to hex
// digest. Every error wraps ErrConfig and is
// a *ConfigError whose Source names the file and section
// ("/data/settings/a.yaml [development]"), the variable ("env
// OPA_PLUGIN_PATHS") or "viper" that set the bad value, and whose Key names
// the setting ("OPTIONAL_COMPONENTS.REDIS.LOAD"); it never quotes an OPTS
// value. The result is checked as a Config given WithConfig is.
//
// # Writing back
//
// On success the merged settings, the host's keys included, are merged
// into v's config layer (v.MergeConfigMap), so the host reads its own keys
// from v with the same files, environments and variables. Viper ranks its
// overrides (v.Set), flags and bound environment variables above its config,
// so for a key the host set that way, v.Get still returns the host's value.
// Viper merges maps key by key, so a key that only v's own config held stays
// visible even where a file replaced its map. Loading twice from one v
// applies the files and variables again over the first result, so lists
// they merge into grow again.
func LoadConfig(v *viper.Viper) (Config, error) {
	return loadConfig(v, os.Environ())
}

// loadConfig is LoadConfig with the environment given as "NAME=VALUE"
// strings.
func loadConfig(v *viper.Viper, environ []string) (Config, error) {
	if v == nil {
		v = viper.New()
	}
	env := settings.Environ(environ)
	insecure, err := allowInsecureFromEnv(env)
	if err != nil {
		return Config{}, err
	}
	perms := Config{AllowInsecurePermissions: insecure}.permissionChecker()
	check := func(path string) error { return trustStep(perms(path)) }
	l, err := settings.Load(v.AllSettings(), env, check)
	if err != nil {
		return Config{}, configError(err)
	}
	if err := envOnly(l, keyAllowInsecure); err != nil {
		return Config{}, err
	}
	c, err := decodeConfig(l)
	if err != nil {
		return Config{}, err
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	if err := v.MergeConfigMap(l.Root()); err != nil {
		return Config{}, &ConfigError{Source: "viper", Err: fmt.Errorf("cannot store the merged settings: %w", err)}
	}
	c.warnings = l.SectionWarnings(env)
	c.hostSettings = hostSettings(l.Root())
	return c, nil
}

// configError turns an error of the settings layers into a *ConfigError.
func configError(err error) error {
	if se, ok := errors.AsType[*settings.Error](err); ok {
		return &ConfigError{Source: se.Source, Key: se.Key, Err: se.Err}
	}
	return err
}

// keyAllowInsecure is the setting that turns off the permission checks.
const keyAllowInsecure = "plugin_allow_insecure_permissions"

// allowInsecureFromEnv reads PLUGIN_ALLOW_INSECURE_PERMISSIONS from the
// OPA_ variables alone, before any settings file is read: it decides
// whether the files are checked.
func allowInsecureFromEnv(env map[string]string) (bool, error) {
	v, name, err := settings.EnvValue(env, keyAllowInsecure)
	if err != nil {
		return false, configError(err)
	}
	b, ok := parseBool(v)
	if !ok {
		return false, &ConfigError{Source: "env " + name, Key: settings.KeyName([]string{keyAllowInsecure}),
			Err: fmt.Errorf("%s where true or false belongs", settings.TypeName(v))}
	}
	return b, nil
}

// envOnly refuses a setting that a layer other than the OPA_ variables
// set: a settings file (or a host's viper) that could turn off the
// permission checks could turn off the check of its own permissions.
func envOnly(l *settings.Settings, key string) error {
	path := []string{key}
	if l.Get(key) == nil || strings.HasPrefix(l.Source(path), "env ") {
		return nil
	}
	return &ConfigError{Source: l.Source(path), Key: settings.KeyName(path),
		Err: fmt.Errorf("can only be set by the environment variable %s, so that a settings file cannot turn off the permission check of its own file: remove it here, and set %s=true in the host's environment (for development only)", envAllowInsecure, envAllowInsecure)}
}
