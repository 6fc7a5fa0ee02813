package opa

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/settings"
	"github.com/opa-stack/opa-go/internal/stage"
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

// Host is a binary that loads plugins, as the checks before plugin.Open see
// it: its file, whose package hashes decide whether a plugin can load next
// to it, and its build information, which explains why not.
type Host struct {
	File  string           // the executable
	Build *debug.BuildInfo // its build information; nil if it has none
}

// ReadHost reads a host binary for Explain and CheckPlugin. It fails when
// the file cannot be read or is not a Go binary.
func ReadHost(file string) (*Host, error) {
	f, _, err := preflight.OpenFile(file) // a FIFO named as the host must not block
	if nr, ok := errors.AsType[*preflight.NotRegularError](err); ok {
		return nil, fmt.Errorf("opa: host %s is %s, not a regular file: name the host's executable", file, nr.Type())
	}
	if err != nil {
		return nil, fmt.Errorf("opa: host %s: %w", file, err)
	}
	defer f.Close()
	info, err := buildinfo.Read(f)
	if err != nil {
		return nil, fmt.Errorf("opa: host %s: %w (is it a Go binary built with module support?)", file, err)
	}
	return &Host{File: file, Build: info}, nil
}

// CurrentHost is the running binary as a Host.
func CurrentHost() *Host {
	h := &Host{Build: preflight.HostBuildInfo()}
	if exe, err := os.Executable(); err == nil {
		h.File = exe
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			h.File = "/proc/self/exe" // what runs, even if the file was replaced since
		}
	}
	return h
}

// checkRun is the state of the checks over one run of the loader: the
// identities of the plugins chosen so far, to catch copies, and what the
// process has loaded, for the package check.
type checkRun struct {
	identities map[string]chosenFile // plugin identity → the file chosen with it
	process    *preflight.Process
	perm       func(string) error                          // the pass's permission rule (see permissionCheckers)
	permOpened func(string, fs.FileInfo) error             // the same, for a file open for loading
	permOpen   func(string) (*os.File, fs.FileInfo, error) // the same, opening a file to read (meta.json)
	stage      *staging                                    // the chosen files, opened and copied
	opening    bool                                        // the plugins chosen will be opened (Startup, not Explain)
	metas      map[*candidate]metaResult
	locks      map[string]*folderLock // the opa.lock of each search path that has one
}

// chosenFile is a .so file that passed the checks: file names it, path is
// what was read (its private copy, or file).
type chosenFile struct{ file, path string }

// metaResult is a candidate's meta.json as read once per pass.
type metaResult struct {
	meta Meta
	err  error
}

func newCheckRun(host *Host) *checkRun {
	r := &checkRun{identities: map[string]chosenFile{}, metas: map[*candidate]metaResult{}}
	if host == nil {
		r.process = preflight.NewProcess("", nil)
	} else {
		r.process = preflight.NewProcess(host.File, host.Build)
	}
	r.process.Fetch = preflight.NewPrefetch()
	return r
}

// preflight runs the checks that come before plugin.Open on a chosen .so
// file, staged as file (opened, and copied unless it is opened in place),
// cheapest first, and says which step failed: "trust" (permissions of the
// file as opened and of its directories, SHA-256 pin, opa.lock), "preflight" (a
// complete ELF shared object for this machine), "identity" (not a copy of
// a plugin already chosen), "build" (its packages can load next to the
// host's and those of the plugins chosen before it, as plugin.Open
// decides). The checks after trust read file.Path, the bytes that
// plugin.Open gets. A file that passes is recorded in run, and its build
// information returned.
func (m *Manager) preflight(c *candidate, run *checkRun, file *stage.File) (*debug.BuildInfo, string, error) {
	if err := m.cfg.checkTrust(c.name, c.file, file, run.permOpened); err != nil {
		return nil, "trust", err
	}
	if err := m.checkLock(c, m.lockOf(c, run.locks), file.SHA256); err != nil {
		return nil, "trust", err
	}
	return run.checkFile(c.name, c.file, file.Path)
}

// checkFile runs the checks of a .so file that come after trust, for
// Startup and CheckPlugin alike: a complete ELF shared object, not a copy
// of a plugin chosen before ("identity"), and packages that can load next
// to what the process holds ("build"). It reads path (the file, or its
// private copy) and names file. A file that passes is recorded.
func (run *checkRun) checkFile(name, file, path string) (*debug.BuildInfo, string, error) {
	facts := run.process.Fetch.Facts(path) // read ahead by staging, or now
	if facts.ELF != nil {
		return nil, "preflight", fmt.Errorf("%s %w", file, facts.ELF)
	}
	info, id := facts.Build, facts.Identity
	if prev, dup := run.identities[id]; dup && id != "" && sameIdentity(prev.path, path) {
		if preflight.SameFile(prev.path, path) {
			return info, "", nil // the same file again: plugin.Open returns the plugin it opened
		}
		return nil, "identity", fmt.Errorf("%s is the same plugin as %s (both built from %s, and Go loads a plugin once): remove one of them, or build them from different main packages", file, prev.file, id)
	}
	if facts.BuildErr != nil {
		return nil, "build", fmt.Errorf("%s: %w", file, facts.BuildErr)
	}
	if sym := facts.Missing; sym != "" {
		return nil, "build", fmt.Errorf("%s was built with -ldflags=-pluginpath=%s, but the compiler named its symbols after its package, so plugin.Open would fail with \"could not find symbol %s\": build it without -pluginpath", file, id, sym)
	}
	if err := run.process.Check(name, path, info); err != nil {
		return nil, "build", fmt.Errorf("%s: %w", file, err)
	}
	if id != "" {
		run.identities[id] = chosenFile{file, path}
	}
	return info, "", nil
}

// sameIdentity confirms a collision of build-info identities with the
// runtime's own key, where both files carry it: build info misses a
// -pluginpath given with -trimpath.
func sameIdentity(a, b string) bool {
	ka, kb := preflight.ELFPluginPath(a), preflight.ELFPluginPath(b)
	return ka == "" || kb == "" || ka == kb
}

// Explain does what Startup does up to opening plugins (discovery, the
// filters, meta.json, and the trust, ELF and package checks) and opens
// nothing. In its report, Loaded means "Startup would open it", and Reason
// says why not (PluginReport.Step names the check that refused a plugin).
// host is the binary that will load the plugins (ReadHost, or CurrentHost):
// each chosen plugin is checked, in load order, against its package hashes
// and those of the plugins chosen before, as plugin.Open will. A nil host
// checks the plugins against each other only (a tool that does not know
// the host). Report.BuildCheck says how the verdict was reached. The error
// joins the failures that would fail Startup with PLUGIN_ON_ERROR=fail.
// Explain can be called in any state and changes nothing.
func (m *Manager) Explain(host *Host) (Report, error) {
	var rep Report
	errs, err := m.plan(&rep, host, false, nil)
	if err == nil {
		err = errors.Join(errs...)
	}
	rep.Fingerprint = m.fingerprint(&rep, hostBuildID(host))
	if err != nil {
		err = m.red.wrap(err)
		rep.Error = err.Error()
	}
	return rep, err
}

// CheckPlugin runs the checks Startup runs on .so files before opening
// them, in the order given, as if they were loaded in that order: the
// permission rule (the file and every directory on its real path up to /
// writable only by their owners, sticky directories aside, and owned by
// root or this process's user; off when the environment variable
// OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS is true), a complete ELF shared
// object for this machine, not a copy of a file before it, and whether it
// can load next to host (nil means this binary) and the files before it,
// as plugin.Open decides from the package hashes both export. It opens nothing and checks no SHA-256 pin.
// It returns one error per file, nil for a file that passes; every problem
// is in plain words with its fix, in the words Startup uses, and a package
// mismatch is a *BuildMismatchError.
func CheckPlugin(host *Host, files ...string) []error {
	errs := make([]error, len(files))
	insecure, err := allowInsecureFromEnv(settings.Environ(os.Environ()))
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if host == nil {
		host = CurrentHost()
	}
	run := newCheckRun(host)
	perm := Config{AllowInsecurePermissions: insecure}.permissionChecker()
	for i, file := range files {
		if err := perm(file); err != nil {
			errs[i] = fmt.Errorf("opa: %s: trust: %w", file, err)
			continue
		}
		if _, _, err := run.checkFile(filepath.Base(file), file, file); err != nil {
			errs[i] = fmt.Errorf("opa: %w", err)
		}
	}
	return errs
}

// checkTrust runs the trust checks a Config asks for on a chosen .so file,
// staged as staged: the permission rule on the file as it was opened and on
// its directories (check, made by permissionCheckers), and its SHA-256 pin,
// against the SHA-256 of the bytes staged.
func (c Config) checkTrust(name, file string, staged *stage.File, check func(string, fs.FileInfo) error) error {
	if err := check(file, staged.Info); err != nil {
		return err
	}
	if err := preflight.CheckPin(name, file, c.PluginSHA256, c.RequireSHA256, staged.SHA256); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// envAllowInsecure is the only way to set AllowInsecurePermissions outside
// a host's code: a settings file must not be able to turn off its own check.
const envAllowInsecure = "OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS"

// permissionChecker returns the permission rule of package trust, for one
// pass over the files that decide which code runs (.so files, meta.json
// files, settings files and directories): symlinks resolved, the file and
// every directory up to / must be writable by nobody but their owner
// (sticky directories aside) and be owned by root or this process's user.
// AllowInsecurePermissions turns it off. A path that does not exist is an
// error wrapping fs.ErrNotExist. It takes each directory it has found
// trusted as checked.
func (c Config) permissionChecker() func(path string) error {
	path, _, _ := c.permissionCheckers()
	return path
}

// permissionCheckers returns permissionChecker's rule, and the same rule
// for a file that is open and for a file about to be read, sharing what
// they found trusted. The second also applies the rule to the open
// descriptor's FileInfo (see trust.Checker.CheckOpened), so a file swapped
// in after it was opened is judged by what was opened. The third opens
// the file and judges it by the open descriptor (trust.Checker.CheckOpen
// where it can, else preflight.OpenFile then CheckOpened), and gives the
// caller that file; with the rule off it gives a nil file, and the caller
// opens the path itself.
func (c Config) permissionCheckers() (func(path string) error, func(path string, opened fs.FileInfo) error, func(path string) (*os.File, fs.FileInfo, error)) {
	if c.AllowInsecurePermissions {
		return func(string) error { return nil }, func(string, fs.FileInfo) error { return nil },
			func(string) (*os.File, fs.FileInfo, error) { return nil, nil, nil }
	}
	tc := new(trust.Checker)
	return func(path string) error { return permissionError(path, tc.Check(path)) },
		func(path string, fi fs.FileInfo) error { return permissionError(path, tc.CheckOpened(path, fi)) },
		func(path string) (*os.File, fs.FileInfo, error) {
			f, fi, err := tc.CheckOpen(path)
			if err != nil || f != nil {
				return f, fi, permissionError(path, err)
			}
			// CheckOpen judged the path (a symlink on it): open it as
			// a plugin file is opened, and judge what was opened too.
			if f, fi, err = preflight.OpenFile(path); err != nil {
				return nil, nil, err // not there, or not a regular file: the caller words it
			}
			if err := tc.CheckOpened(path, fi); err != nil {
				f.Close()
				return nil, nil, permissionError(path, err)
			}
			return f, fi, nil
		}
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
