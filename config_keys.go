package opa

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/settings"
	"github.com/opa-stack/opa-go/internal/suggest"
)

// settingNames are the library's settings, as the docs spell them: this
// list, the README's settings table and decodeConfig name the same keys (a
// test checks the first two). Every other top-level key starting with
// PLUGIN_ is an error; other keys are the host's.
var settingNames = []string{
	"PLUGIN_PATHS",
	"PLUGIN_DEFAULT_PATH",
	"PLUGIN_WHITELIST_LIST",
	"PLUGIN_WHITELIST_RE",
	"PLUGIN_WHITELIST_TAGS",
	"PLUGIN_BLACKLIST_LIST",
	"PLUGIN_BLACKLIST_RE",
	"PLUGIN_BLACKLIST_TAGS",
	"OPTIONAL_COMPONENTS",
	"COMPONENT_TIMEOUT",
	"PLUGIN_ON_ERROR",
	"PLUGIN_ALLOW_INSECURE_PERMISSIONS",
	"PLUGIN_SHA256",
	"PLUGIN_REQUIRE_SHA256",
	"PLUGIN_COPY_DIR",
	"PLUGIN_OPEN_IN_PLACE",
	"PLUGIN_IGNORE_LOCK",
}

// componentKeys are the keys of one entry of OPTIONAL_COMPONENTS.
var componentKeys = []string{"LOAD", "DRIVER", "OPTS"}

// namespacePrefix starts every key of the library's namespace but
// OPTIONAL_COMPONENTS and COMPONENT_TIMEOUT (lower-case, as merged).
const namespacePrefix = "plugin_"

// checkNamespace reports the keys of the library's namespace that it does
// not know: a top-level key starting with PLUGIN_, and a key of a component
// other than LOAD, DRIVER and OPTS. Each is a *ConfigError naming the layer
// that set it and the closest known key; several are joined, in key order.
// Keys outside the namespace, the plugin names of PLUGIN_SHA256 and the keys
// of OPTS are not looked at; values of the wrong shape are left to
// decodeConfig.
func checkNamespace(l *settings.Settings) error {
	var errs []error
	unknown := func(path []string, known []string) {
		errs = append(errs, &ConfigError{
			Source: l.Source(path),
			Key:    settings.KeyName(path),
			Err:    newUnknownSetting(path, known),
		})
	}
	root := l.Root()
	for _, k := range slices.Sorted(maps.Keys(root)) {
		if strings.HasPrefix(k, namespacePrefix) && !knownKey(k, settingNames) {
			unknown([]string{k}, settingNames)
		}
	}
	comps, _ := root["optional_components"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(comps)) {
		entry, _ := comps[name].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(entry)) {
			if !knownKey(k, componentKeys) {
				unknown([]string{"optional_components", name, k}, componentKeys)
			}
		}
	}
	return errors.Join(errs...)
}

// checkOpts checks the OPTS of component name against the keys its driver
// accepts (Driver.Opts; nil accepts any). The error is a *ConfigError for
// the first unknown key in sorted order.
func checkOpts(name string, opts Options, accepted []string) error {
	if accepted == nil {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if !knownKey(k, accepted) {
			path := []string{"optional_components", name, "opts", k}
			return &ConfigError{Key: settings.KeyName(path), Err: newUnknownSetting(path, accepted)}
		}
	}
	return nil
}

// knownKey reports whether key is one of known, case-insensitively.
func knownKey(key string, known []string) bool {
	return slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, key) })
}

// unknownSettingError is the cause of the *ConfigError for a key of the
// library's namespace that it does not know. It names the key itself, so
// the ConfigError does not repeat it.
type unknownSettingError struct {
	key        string   // the whole key path, as the docs spell it
	suggestion string   // the closest known key, upper-case; "" when none is near
	known      []string // every known key at that level, upper-case
}

func newUnknownSetting(path []string, known []string) *unknownSettingError {
	up := make([]string, len(known))
	for i, k := range known {
		up[i] = strings.ToUpper(k)
	}
	e := &unknownSettingError{key: settings.KeyName(path), known: up}
	e.suggestion, _ = suggest.Closest(path[len(path)-1], up)
	return e
}

// Error names the key and the closest known one, or else every known one.
func (e *unknownSettingError) Error() string {
	if e.suggestion != "" {
		return fmt.Sprintf("unknown setting %s (did you mean %s?)", e.key, e.suggestion)
	}
	if len(e.known) == 0 {
		return fmt.Sprintf("unknown setting %s (none is accepted here)", e.key)
	}
	return fmt.Sprintf("unknown setting %s (known here: %s)", e.key, strings.Join(e.known, ", "))
}
