package opa

import (
	"fmt"
	"runtime/debug"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/trust"
)

// BuildMismatchError means a .so plugin was built differently from the host
// that tries to load it, so plugin.Open would fail with "plugin was built
// with a different version of package ..." (naming only the first, often
// internal, package). Its field Differences lists every difference found in
// the two binaries' build information, each as one line in plain words with
// the fix, for example "built without -race, host built with -race: rebuild
// the plugin with -race"; Error joins them with "; ". Hosts can get it with
// errors.As.
type BuildMismatchError = preflight.BuildMismatchError

// preflight runs the checks that come before plugin.Open on a chosen .so
// file, cheapest first, and says which step failed: "trust" (permissions,
// SHA-256 pin), "preflight" (a complete ELF shared object for this machine),
// "build" (built like the host), "identity" (not a copy of a plugin already
// chosen). A file that passes is recorded in opened.
func (m *Manager) preflight(c *candidate, opened map[string]string, host *debug.BuildInfo) (string, error) {
	if err := m.cfg.checkTrust(c.name, c.file, c.dir); err != nil {
		return "trust", err
	}
	if err := preflight.CheckELF(c.file); err != nil {
		return "preflight", fmt.Errorf("%s %w", c.file, err)
	}
	info, buildErr := preflight.ReadBuild(c.file, host)
	id := preflight.Identity(info)
	if prev, dup := opened[id]; dup && id != "" && sameIdentity(prev, c.file) {
		return "identity", fmt.Errorf("%s is the same plugin as %s (both built from %s, and Go loads a plugin once): remove one of them, or build them from different main packages", c.file, prev, id)
	}
	if buildErr != nil {
		return "build", fmt.Errorf("%s: %w", c.file, buildErr)
	}
	if id != "" {
		opened[id] = c.file
	}
	return "", nil
}

// sameIdentity confirms a collision of build-info identities with the
// runtime's own key, where both files carry it: build info misses a
// -pluginpath given with -trimpath.
func sameIdentity(a, b string) bool {
	ka, kb := preflight.ELFPluginPath(a), preflight.ELFPluginPath(b)
	return ka == "" || kb == "" || ka == kb
}

// Explain does what Startup does up to opening plugins (discovery, the
// filters, meta.json, and the trust, ELF and build checks) and opens
// nothing. In its report, Loaded means "Startup would open it", and Reason
// says why not (PluginReport.Step names the check that refused a plugin).
// host is the build information of the binary that will load the plugins:
// read a host binary's with debug/buildinfo.ReadFile, or this binary's with
// runtime/debug.ReadBuildInfo; nil skips the build comparison (a tool that
// does not know the host). The error joins the failures that would fail
// Startup with PLUGIN_ON_ERROR=fail. Explain can be called in any state and
// changes nothing.
func (m *Manager) Explain(host *debug.BuildInfo) (Report, error) {
	var rep Report
	_, err := m.choose(&rep, true, host)
	if err != nil {
		err = m.red.wrap(err)
		rep.Error = err.Error()
	}
	return rep, err
}

// CheckPlugin runs the checks Startup runs on a .so file before opening it:
// a complete ELF shared object for this machine, built like the host whose
// build information is given (nil means this binary). It opens nothing.
// Every problem is in plain words with its fix; a build mismatch is a
// *BuildMismatchError.
func CheckPlugin(file string, host *debug.BuildInfo) error {
	if host == nil {
		host = preflight.HostBuildInfo()
	}
	if err := preflight.CheckELF(file); err != nil {
		return fmt.Errorf("opa: %s %w", file, err)
	}
	if _, err := preflight.ReadBuild(file, host); err != nil {
		return fmt.Errorf("opa: %s: %w", file, err)
	}
	return nil
}

// checkTrust runs the trust checks a Config asks for on a chosen .so file:
// its permissions and those of the directories it lives in (up to the
// search path), and its SHA-256 pin.
func (c Config) checkTrust(name, file, searchPath string) error {
	if !c.AllowInsecurePermissions {
		for _, p := range trust.Paths(file, searchPath) {
			if err := trust.Check(p); err != nil {
				return fmt.Errorf("%w, or set PLUGIN_ALLOW_INSECURE_PERMISSIONS=true for development", err)
			}
		}
	}
	if err := preflight.CheckPin(name, file, c.PluginSHA256, c.RequireSHA256); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}
