package opa

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps at most one of
// them, so hosts can branch with errors.Is.
var (
	// ErrUnavailable means a component's service is not there (the host did
	// not resolve, the port is closed). A Component's Connect returns an error
	// wrapping it; with LOAD=auto the component is then left unavailable
	// instead of failing Startup.
	ErrUnavailable = errors.New("opa: service unavailable")

	// ErrNotFound means there is no such hook, component or plugin.
	ErrNotFound = errors.New("opa: not found")

	// ErrConfig means a setting is invalid. The error is a *ConfigError
	// naming the file or environment variable and the key.
	ErrConfig = errors.New("opa: invalid configuration")

	// ErrState means a call came at the wrong point of the lifecycle:
	// Startup twice, Shutdown before Startup, CallHook before Startup.
	ErrState = errors.New("opa: wrong state")

	// ErrUnsupported means this binary cannot open .so plugins at all
	// (built without cgo, or on an OS without Go plugin support). Plugins
	// compiled in with Register still work.
	ErrUnsupported = errors.New("opa: .so plugins are not supported by this binary")

	// ErrBadCall means a hook was called with the wrong arguments, or asked
	// for as the wrong func type.
	ErrBadCall = errors.New("opa: bad hook call")

	// ErrTaskArgs means a task's JSON args do not decode into its args type
	// (a field it does not have, a value of the wrong type) or fail its
	// Validate method. Retrying the job cannot help.
	ErrTaskArgs = errors.New("opa: task args")
)

// ConfigError is a bad setting: where it came from, which key, and why.
// errors.Is(err, ErrConfig) is true for every ConfigError.
type ConfigError struct {
	Source string // a file ("/data/settings/a.yaml [development]") or a variable ("env OPA_PLUGIN_PATHS")
	Key    string // the setting, upper-case as in the docs: "PLUGIN_WHITELIST_RE"
	Err    error
}

// Error says where the bad setting came from, its key and what is wrong.
func (e *ConfigError) Error() string {
	msg := "opa: config"
	if e.Source != "" {
		msg += " " + e.Source
	}
	if _, named := e.Err.(*unknownSettingError); e.Key != "" && !named {
		msg += ": " + e.Key
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Is reports whether target is ErrConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// PluginError is a failure of one plugin at one step of its life: which
// plugin, where it lives, what was being done, and why.
type PluginError struct {
	Plugin string // the plugin's name
	Path   string // its match string, "<search path>/<name>"
	Step   string // "meta", "name", "trust", "preflight", "identity", "build", "open", "hooks", "drivers", "tasks", "routes", "setup N" (the Nth setup)
	Err    error
}

// Error names the plugin, its path and the step, then the cause.
func (e *PluginError) Error() string {
	return fmt.Sprintf("opa: plugin %s (%s): %s: %v", e.Plugin, e.Path, e.Step, e.Err)
}

// Unwrap returns the cause.
func (e *PluginError) Unwrap() error { return e.Err }

// PanicError is a panic recovered from plugin code (an init, a driver, a
// setup, a hook), so that one plugin cannot take the host down.
type PanicError struct {
	Value any // what the code panicked with
}

// Error says what the code panicked with.
func (e *PanicError) Error() string { return fmt.Sprintf("panicked: %v", e.Value) }
