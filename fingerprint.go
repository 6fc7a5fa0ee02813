package opa

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/opa-stack/opa-go/internal/preflight"
)

// Fingerprint says in two digests what an instance runs, so that the
// instances of a fleet can be compared (opa fleet): Plugins over the host
// binary and the plugins loaded, Settings over the effective settings.
// Two instances with the same Plugins run the same code; with the same
// Settings, they were configured alike.
type Fingerprint struct {
	// Plugins is the SHA-256, in hex, of the host binary's Go build ID and
	// the sorted names of the plugins loaded, each with the SHA-256 of its
	// .so file (a compiled-in plugin is part of the host binary). A .so
	// file is hashed only when its folder has an opa.lock or it is pinned
	// (PLUGIN_SHA256, PLUGIN_REQUIRE_SHA256): hashing every file would cost
	// Startup about as much again as opening them (BENCHMARKS.md). An
	// unhashed plugin counts with its module and version instead, and is
	// listed in Unhashed.
	Plugins string `json:"plugins"`
	// Host is the Go build ID of the host binary ("" when it has none).
	Host string `json:"host,omitempty"`
	// Unhashed are the loaded .so plugins whose SHA-256 was not computed.
	Unhashed []string `json:"unhashed,omitempty"`
	// Settings is the SHA-256, in hex, of SettingKeys.
	Settings string `json:"settings"`
	// SettingKeys has, for every setting that counts, the SHA-256 in hex
	// of its value after redaction (a secret's value counts as
	// "[REDACTED]", so secrets neither show nor change the digest). The
	// library's settings count with their effective values (defaults
	// included), the host's own top-level settings as LoadConfig merged
	// them; the settings that differ per instance by design are left out
	// (see perInstanceSetting). opa fleet compares these to name the keys
	// that differ, never their values.
	SettingKeys map[string]string `json:"setting_keys"`
}

// Short is a digest shortened as git shortens a commit hash.
func Short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

// perInstanceNames are the settings the settings fingerprint leaves out,
// because they differ from instance to instance by design: where the
// private copies go, and the host's own listen addresses, ports, host names
// and PID files. A host setting whose name ends with one of
// perInstanceSuffixes is left out too.
var perInstanceNames = []string{
	"PLUGIN_COPY_DIR",
	"ADDR", "ADDRESS", "LISTEN", "PORT", "HOST", "HOSTNAME", "PIDFILE", "PID_FILE",
}

// perInstanceSuffixes: see perInstanceNames.
var perInstanceSuffixes = []string{"_ADDR", "_ADDRESS", "_LISTEN", "_PORT", "_HOSTNAME", "_PIDFILE", "_PID_FILE"}

// perInstanceSetting says whether a setting (upper-case) is left out of the
// settings fingerprint.
func perInstanceSetting(key string) bool {
	if slices.Contains(perInstanceNames, key) {
		return true
	}
	return slices.ContainsFunc(perInstanceSuffixes, func(s string) bool { return strings.HasSuffix(key, s) })
}

// hostSettings keeps the top-level settings of root (lower-case keys, as
// merged) that are not the library's, for the settings fingerprint; nil
// when there are none.
func hostSettings(root map[string]any) map[string]any {
	var out map[string]any
	for k, v := range root {
		if strings.HasPrefix(k, namespacePrefix) || knownKey(k, settingNames) {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k] = v
	}
	return out
}

// effectiveSettings returns every setting that counts for the settings
// fingerprint, by upper-case key, redacted: the library's with their
// effective values, then the host's own.
func (c Config) effectiveSettings() map[string]any {
	list := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	onError, _ := normalizeOnError(c.OnError)
	comps := map[string]any{}
	for name, cc := range c.OptionalComponents {
		load, _ := normalizeLoad(cc.Load)
		comps[strings.ToLower(name)] = map[string]any{"LOAD": load, "DRIVER": strings.ToLower(cc.Driver), "OPTS": redactOptions(cc.Opts)}
	}
	pins := map[string]string{}
	for name, pin := range c.PluginSHA256 {
		pins[strings.ToLower(name)] = strings.ToLower(strings.TrimSpace(pin))
	}
	out := map[string]any{
		"PLUGIN_PATHS":                      list(c.PluginPaths),
		"PLUGIN_DEFAULT_PATH":               c.defaultPath(),
		"PLUGIN_WHITELIST_LIST":             list(c.WhitelistList),
		"PLUGIN_WHITELIST_RE":               c.WhitelistRE,
		"PLUGIN_WHITELIST_TAGS":             list(c.WhitelistTags),
		"PLUGIN_BLACKLIST_LIST":             list(c.BlacklistList),
		"PLUGIN_BLACKLIST_RE":               c.BlacklistRE,
		"PLUGIN_BLACKLIST_TAGS":             list(c.BlacklistTags),
		"OPTIONAL_COMPONENTS":               comps,
		"COMPONENT_TIMEOUT":                 c.componentTimeout().String(),
		"PLUGIN_ON_ERROR":                   onError,
		"PLUGIN_ALLOW_INSECURE_PERMISSIONS": c.AllowInsecurePermissions,
		"PLUGIN_SHA256":                     pins,
		"PLUGIN_REQUIRE_SHA256":             c.RequireSHA256,
		"PLUGIN_COPY_DIR":                   c.CopyDir,
		"PLUGIN_OPEN_IN_PLACE":              c.OpenInPlace,
		"PLUGIN_IGNORE_LOCK":                c.IgnoreLock,
	}
	for k, v := range c.hostSettings {
		key := strings.ToUpper(k)
		if secretKey(k) {
			out[key] = redacted
		} else {
			out[key] = redactValue(v, 0)
		}
	}
	for k := range out {
		if perInstanceSetting(k) {
			delete(out, k)
		}
	}
	return out
}

// settingsFingerprint digests the effective settings (see Fingerprint).
func (c Config) settingsFingerprint() (string, map[string]string) {
	keys := map[string]string{}
	for k, v := range c.effectiveSettings() {
		js, err := json.Marshal(v)
		if err != nil { // a host value JSON cannot hold: its text counts
			js = []byte(fmt.Sprintf("%#v", v))
		}
		sum := sha256.Sum256(js)
		keys[k] = hex.EncodeToString(sum[:])
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		fmt.Fprintf(h, "%s %s\n", k, keys[k])
	}
	return hex.EncodeToString(h.Sum(nil)), keys
}

// pluginsFingerprint digests the host's build ID and the loaded plugins of
// rep (see Fingerprint), and lists the loaded .so plugins not hashed.
func pluginsFingerprint(hostID string, plugins []PluginReport) (string, []string) {
	var lines, unhashed []string
	for _, p := range plugins {
		switch {
		case !p.Loaded:
		case p.Builtin:
			lines = append(lines, fmt.Sprintf("plugin %s builtin", p.Name))
		case p.SHA256 != "":
			lines = append(lines, fmt.Sprintf("plugin %s sha256 %s", p.Name, p.SHA256))
		default:
			lines = append(lines, fmt.Sprintf("plugin %s unhashed %s %s", p.Name, p.Module, p.Version))
			unhashed = append(unhashed, p.Name)
		}
	}
	slices.Sort(lines)
	slices.Sort(unhashed)
	h := sha256.New()
	fmt.Fprintf(h, "host %s\n", hostID)
	for _, l := range lines {
		fmt.Fprintln(h, l)
	}
	return hex.EncodeToString(h.Sum(nil)), unhashed
}

// fingerprint is the Fingerprint of rep, for a host whose Go build ID is
// hostID.
func (m *Manager) fingerprint(rep *Report, hostID string) *Fingerprint {
	fp := &Fingerprint{Host: hostID}
	fp.Plugins, fp.Unhashed = pluginsFingerprint(hostID, rep.Plugins)
	fp.Settings, fp.SettingKeys = m.cfg.settingsFingerprint()
	return fp
}

// hostBuildID is the Go build ID of a Host's binary, "" for none.
func hostBuildID(h *Host) string {
	if h == nil || h.File == "" {
		return ""
	}
	if h.File == "/proc/self/exe" {
		return currentBuildID()
	}
	return preflight.GoBuildID(h.File)
}

// currentBuildID is the Go build ID of the running binary, read once.
var currentBuildID = sync.OnceValue(func() string {
	if id := preflight.GoBuildID("/proc/self/exe"); id != "" {
		return id
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return preflight.GoBuildID(exe)
})
