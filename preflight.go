package opa

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/settings"
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
	if err := m.cfg.checkTrust(c.name, c.file); err != nil {
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
// the permission rule (the file and every directory on its real path up
// to / writable only by their owners, sticky directories aside, and owned
// by root or this process's user; off when the environment variable
// OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS is true), a complete ELF shared
// object for this machine, built like the host whose build information is
// given (nil means this binary). It opens nothing and checks no SHA-256
// pin. Every problem is in plain words with its fix, in the words Startup
// uses; a build mismatch is a *BuildMismatchError.
func CheckPlugin(file string, host *debug.BuildInfo) error {
	insecure, err := allowInsecureFromEnv(settings.Environ(os.Environ()))
	if err != nil {
		return err
	}
	if err := (Config{AllowInsecurePermissions: insecure}).checkPermissions(file); err != nil {
		return fmt.Errorf("opa: %s: trust: %w", file, err)
	}
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
// the permission rule (see checkPermissions), and its SHA-256 pin.
func (c Config) checkTrust(name, file string) error {
	if err := c.checkPermissions(file); err != nil {
		return err
	}
	if err := preflight.CheckPin(name, file, c.PluginSHA256, c.RequireSHA256); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// envAllowInsecure is the only way to set AllowInsecurePermissions outside
// a host's code: a settings file must not be able to turn off its own check.
const envAllowInsecure = "OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS"

// checkPermissions applies the permission rule of package trust to a file
// that decides which code runs (a .so file, a meta.json, a settings file or
// directory): symlinks resolved, the file and every directory up to / must
// be writable by nobody but their owner (sticky directories aside) and be
// owned by root or this process's user. AllowInsecurePermissions turns it
// off. A path that does not exist is an error wrapping fs.ErrNotExist.
func (c Config) checkPermissions(path string) error {
	if c.AllowInsecurePermissions {
		return nil
	}
	return permissionError(path, trust.Check(path))
}

// permissionError words an error of trust.Check: a broken rule with its fix
// and the development override, anything else naming the path.
func permissionError(path string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*trust.Error](err); ok {
		return fmt.Errorf("%w, or set %s=true for development", err, envAllowInsecure)
	}
	return fmt.Errorf("cannot check the permissions of %s: %w", path, err)
}

// trustStep prefixes "trust: " to a broken permission rule, as a plugin
// error's step does, for the checks that are not a plugin's step: those of
// meta.json and settings files.
func trustStep(err error) error {
	if _, ok := errors.AsType[*trust.Error](err); ok {
		return fmt.Errorf("trust: %w", err)
	}
	return err
}

// insecureWarning is logged once by each Manager whose permission checks
// are off.
const insecureWarning = "opa: PLUGIN_ALLOW_INSECURE_PERMISSIONS is true: the permissions of .so files, meta.json files and settings are not checked, so anyone who can write to them can run code in this host (for development only)"
