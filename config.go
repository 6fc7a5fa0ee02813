package opa

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opa-stack/opa-go/internal/settings"
)

// DefaultPluginPath is searched after every path in Config.PluginPaths, and
// is where plugins compiled in with Register are taken to live.
const DefaultPluginPath = "/data/opa/plugins"

// DefaultSettingsDir is where LoadConfig looks for settings files when
// OPA_SETTINGS_DIR is not set.
const DefaultSettingsDir = settings.DefaultDir

// DefaultComponentTimeout bounds each component's Connect and Validate, and
// each Close at Shutdown, when Config.ComponentTimeout is zero.
const DefaultComponentTimeout = 10 * time.Second

// Config is what decides which plugins load and which components connect. A
// zero Config is valid: no extra paths, no filters, no components, and the
// defaults documented on each field. The Manager never writes defaults back
// into a Config it was given.
type Config struct {
	// PluginPaths are searched in order, then DefaultPluginPath. Duplicates
	// are ignored (the first stays); a path that does not exist is skipped.
	// Setting: PLUGIN_PATHS.
	PluginPaths []string

	// DefaultPluginPath is always searched last. Empty means
	// "/data/opa/plugins". Setting: PLUGIN_DEFAULT_PATH.
	DefaultPluginPath string

	// The six filters. Each is "allow" while unset; a plugin loads when every
	// filter that is set lets it through. LIST and RE filters match the
	// plugin's match string, "<search path>/<name>" (the path as configured);
	// RE filters match at the start only (as Python's re.match). TAGS filters
	// compare with the tags of the plugin's meta.json.
	// Settings: PLUGIN_WHITELIST_LIST, PLUGIN_WHITELIST_RE,
	// PLUGIN_WHITELIST_TAGS, PLUGIN_BLACKLIST_LIST, PLUGIN_BLACKLIST_RE,
	// PLUGIN_BLACKLIST_TAGS.
	WhitelistList []string
	WhitelistRE   string
	WhitelistTags []string
	BlacklistList []string
	BlacklistRE   string
	BlacklistTags []string

	// OptionalComponents are built from the drivers of the loaded plugins and
	// connected in sorted name order. Keys are lower-case.
	// Setting: OPTIONAL_COMPONENTS.
	OptionalComponents map[string]ComponentConfig

	// ComponentTimeout bounds each component's Connect, Validate and Close.
	// Zero means DefaultComponentTimeout. Setting: COMPONENT_TIMEOUT, a Go
	// duration ("5s") or a number of seconds.
	ComponentTimeout time.Duration

	// OnError says what a plugin that fails to load does to Startup: "fail"
	// (the default when empty, as the original) stops Startup; "skip" leaves
	// the plugin out, logs it and reports its error, and Startup goes on. A
	// required hook that only a skipped plugin provides still fails Startup.
	// Setting: PLUGIN_ON_ERROR.
	OnError string

	// AllowInsecurePermissions turns off the permission checks. By default,
	// as OpenSSH's StrictModes does, a .so file, a meta.json, the settings
	// directory or a settings file is refused when it, or a directory on its
	// real path (symlinks resolved) up to /, can be written by users other
	// than its owner (world-writable, or group-writable with a group other
	// than the owner's own; a directory with the sticky bit, like /tmp, may
	// be), or is owned by a user other than root and the one the host runs
	// as. For development only: New logs a warning when it is set.
	// Setting: PLUGIN_ALLOW_INSECURE_PERMISSIONS, from the environment
	// variable OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS only (LoadConfig
	// refuses it from a settings file or a viper).
	AllowInsecurePermissions bool

	// PluginSHA256 pins plugins to the SHA-256 of their .so file, in hex, by
	// plugin name; a file that does not match is refused.
	// Setting: PLUGIN_SHA256 (a map NAME: HEX).
	PluginSHA256 map[string]string

	// RequireSHA256 refuses every .so plugin without a pin in PluginSHA256.
	// Compiled-in plugins need none. Setting: PLUGIN_REQUIRE_SHA256.
	RequireSHA256 bool

	// CopyDir is where Startup makes its private directory for the copies
	// of the .so files it loads (see OpenInPlace). Empty means the first of
	// /var/tmp and os.TempDir() whose filesystem allows mapping code (not
	// mounted noexec). The directory exists only while Startup loads
	// plugins. Setting: PLUGIN_COPY_DIR.
	CopyDir string

	// OpenInPlace turns private copies off. By default Startup copies each
	// .so file it chose into a directory that only the host can write, runs
	// every check on the copy and opens the copy, so that the bytes checked
	// are the bytes loaded, and writing into the file later (cp over it)
	// cannot crash the running host. A file on a read-only filesystem is
	// opened in place either way. Set, the files are opened where they are
	// found, and Startup warns (a WARN line and the report's Warnings).
	// Setting: PLUGIN_OPEN_IN_PLACE.
	OpenInPlace bool

	// IgnoreLock turns off the enforcement of opa.lock files: by default,
	// a plugin folder that holds an opa.lock (written by opa lock, opa add
	// and opa remove) loads only the .so files it names, each with the
	// SHA-256 it records, and every file it names must be there (see
	// LockFile). Set, the locks are not read, and Startup warns.
	// Setting: PLUGIN_IGNORE_LOCK.
	IgnoreLock bool

	// hostSettings are the top-level settings outside the library's
	// namespace that LoadConfig merged (the host's own), lower-case keys:
	// the settings fingerprint covers them, redacted (see Fingerprint).
	hostSettings map[string]any

	// warnings are what LoadConfig found in the settings files that may not
	// do what it seems (an ENV no section matches, a misspelt section);
	// Startup puts them in the report's warnings, each a WARN line.
	warnings []string
}

// OnError values.
const (
	OnErrorFail = "fail"
	OnErrorSkip = "skip"
)

// ComponentConfig is one entry of OPTIONAL_COMPONENTS.
type ComponentConfig struct {
	// Load is "yes" (the component must connect), "no" (never built) or
	// "auto" (connect if the service is there). Empty means "auto".
	Load string
	// Driver names the driver that builds the component, case-insensitive.
	Driver string
	// Opts are passed to the driver's New.
	Opts Options
}

func (c Config) defaultPath() string {
	if c.DefaultPluginPath == "" {
		return DefaultPluginPath
	}
	return c.DefaultPluginPath
}

func (c Config) componentTimeout() time.Duration {
	if c.ComponentTimeout <= 0 {
		return DefaultComponentTimeout
	}
	return c.ComponentTimeout
}

// validate checks a Config however it was made: by LoadConfig, or by a host
// that passes it WithConfig. Both filter regexes must compile, every
// component needs a name (unique regardless of case), a LOAD of yes, no,
// auto or empty (any case), and a DRIVER unless LOAD is no,
// ComponentTimeout must not be negative, and every PLUGIN_SHA256 value
// must be a SHA-256 in hex. The error is a *ConfigError naming
// the key (its Source is empty: a Config does not know where it came from).
func (c Config) validate() error {
	if _, err := compileFilterRE("PLUGIN_WHITELIST_RE", c.WhitelistRE); err != nil {
		return err
	}
	if _, err := compileFilterRE("PLUGIN_BLACKLIST_RE", c.BlacklistRE); err != nil {
		return err
	}
	if c.ComponentTimeout < 0 {
		return &ConfigError{Key: "COMPONENT_TIMEOUT", Err: fmt.Errorf("the timeout must not be negative, got %v", c.ComponentTimeout)}
	}
	if _, err := normalizeOnError(c.OnError); err != nil {
		return &ConfigError{Key: "PLUGIN_ON_ERROR", Err: err}
	}
	if err := checkPinValues(c.PluginSHA256); err != nil {
		return err
	}
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.OptionalComponents)) {
		key := settings.KeyName([]string{"optional_components", name})
		if strings.TrimSpace(name) == "" {
			return &ConfigError{Key: key, Err: errors.New("a component needs a name")}
		}
		lower := strings.ToLower(name)
		if prev, dup := seen[lower]; dup {
			return &ConfigError{Key: key, Err: fmt.Errorf("components %q and %q differ only in case; names are case-insensitive, keep one", prev, name)}
		}
		seen[lower] = name
		cc := c.OptionalComponents[name]
		load, err := normalizeLoad(cc.Load)
		if err != nil {
			return &ConfigError{Key: key + ".LOAD", Err: err}
		}
		if load != "no" && strings.TrimSpace(cc.Driver) == "" {
			return &ConfigError{Key: key + ".DRIVER", Err: fmt.Errorf("no driver given; DRIVER is required unless LOAD is no (LOAD is %s)", load)}
		}
	}
	return nil
}

// normalizeLoad returns a component's LOAD as "yes", "no" or "auto". It
// accepts those in any case and with surrounding spaces, "true" and "false"
// (YAML booleans that reached a string) for yes and no, and "" for auto;
// anything else is an error.
func normalizeLoad(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "yes", "no", "auto":
		return l, nil
	case "true":
		return "yes", nil
	case "false":
		return "no", nil
	case "":
		return "auto", nil
	}
	return "", fmt.Errorf("invalid LOAD %q: want yes, no or auto", s)
}

// normalizeOnError returns PLUGIN_ON_ERROR as "fail" or "skip"; "" is
// "fail", and anything else is an error.
func normalizeOnError(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "", OnErrorFail:
		return OnErrorFail, nil
	case OnErrorSkip:
		return OnErrorSkip, nil
	}
	return "", fmt.Errorf("invalid PLUGIN_ON_ERROR %q: want fail or skip", s)
}
