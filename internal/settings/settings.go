// Package settings reads layered settings the way dynaconf does, knowing
// nothing about what they mean: a base map (a host's viper), then the
// settings files of a directory with their environment sections, then OPA_
// environment variables, merged with dynaconf's markers. Every merged value
// keeps the name of the layer that set it, so that an error about it can
// say where it came from. Package opa decodes the result into its Config.
package settings

import (
	"fmt"
	"strings"
)

// DefaultDir is where settings files are looked for when OPA_SETTINGS_DIR
// is not set.
const DefaultDir = "/data/settings"

// Error is a bad setting: where it came from, which key, and why. Package
// opa turns it into its own ConfigError.
type Error struct {
	Source string // a file and section, a variable ("env OPA_X") or "viper"
	Key    string // upper-case, dotted: "OPTIONAL_COMPONENTS.REDIS.LOAD"
	Err    error
}

// Error says where the bad setting came from, its key and what is wrong.
func (e *Error) Error() string {
	msg := "config"
	if e.Source != "" {
		msg += " " + e.Source
	}
	if e.Key != "" {
		msg += ": " + e.Key
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Load merges the three layers: base (a host's settings, source "viper"),
// the settings files of the directory named by OPA_SETTINGS_DIR in env
// (DefaultDir when unset), and the OPA_ variables of env. env maps variable
// names to values (see Environ). check, when not nil, is called on the
// settings directory (when it exists) and on each settings file before it
// is read; its error is returned naming the path. Every error is an *Error.
func Load(base map[string]any, env map[string]string, check func(path string) error) (*Settings, error) {
	l := newSettings()
	nb, err := normalizeValue(base, nil)
	if err != nil {
		return nil, WithSource(err, "viper")
	}
	if m, ok := nb.(map[string]any); ok {
		l.mergeValue(l.root, m, &l.src, "viper", true)
	}
	files, err := settingsFiles(Dir(env), check)
	if err != nil {
		return nil, err
	}
	environ := Section(env)
	for _, f := range files {
		if check != nil {
			if err := check(f); err != nil {
				return nil, &Error{Source: f, Err: err}
			}
		}
		file, err := readSettingsFile(f)
		if err != nil {
			return nil, err
		}
		if err := fileSections(l, f, file, environ); err != nil {
			return nil, err
		}
		l.noteSections(f, file)
	}
	vars, err := envSettings(env)
	if err != nil {
		return nil, err
	}
	for _, s := range vars {
		l.set(s.path, s.value, "env "+s.name, s.merge)
	}
	return l, nil
}

// Root returns the merged settings as one map with lower-case keys. It is
// the Settings' own map: copy before changing it.
func (l *Settings) Root() map[string]any { return l.root }

// KeyName returns the key path of a setting as the docs spell it: upper-case,
// joined by dots ("OPTIONAL_COMPONENTS.REDIS.LOAD").
func KeyName(path []string) string {
	return strings.ToUpper(strings.Join(path, "."))
}

// TypeName names the kind of a merged value for error messages, which never
// quote values that may be secret.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, uint64:
		return "an integer"
	case float64:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}
