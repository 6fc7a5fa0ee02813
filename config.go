package opa

import (
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

	// AllowInsecurePermissions turns off the permission checks: by default a
	// .so file, or a directory between it and its search path, that users
	// other than its owner can write, or that another non-root user owns, is
	// refused (as OpenSSH's StrictModes does). For development only.
	// Setting: PLUGIN_ALLOW_INSECURE_PERMISSIONS.
	AllowInsecurePermissions bool

	// PluginSHA256 pins plugins to the SHA-256 of their .so file, in hex, by
	// plugin name; a file that does not match is refused.
	// Setting: PLUGIN_SHA256 (a map NAME: HEX).
	PluginSHA256 map[string]string

	// RequireSHA256 refuses every .so plugin without a pin in PluginSHA256.
	// Compiled-in plugins need none. Setting: PLUGIN_REQUIRE_SHA256.
	RequireSHA256 bool
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
