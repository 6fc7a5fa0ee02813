package preflight

import (
	"errors"
	"fmt"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
)

// Process is what one host process has loaded, in order, for the exact
// check of a plugin before plugin.Open: the host executable, then each
// plugin accepted so far. Check decides on package hashes where the host
// and the plugin export them, as the runtime does, and on build
// information where they do not.
type Process struct {
	// Fetch, if set, holds the plugins' package hashes read ahead.
	Fetch *Prefetch

	ready  chan struct{} // closed once the host's hashes are read
	host   *Loaded       // nil: the host is unknown (tools), or exports no hashes
	info   *debug.BuildInfo
	why    string // why the host's hashes are missing, for the report
	loaded []*Loaded
	infos  map[*Loaded]*debug.BuildInfo
}

// NewProcess starts the record of a process whose executable is hostFile,
// built as info says, and starts reading the host's package hashes. An
// empty hostFile means the host is not known: only the plugins are checked
// against each other.
func NewProcess(hostFile string, info *debug.BuildInfo) *Process {
	p := &Process{info: info, infos: map[*Loaded]*debug.BuildInfo{}, ready: make(chan struct{})}
	if hostFile == "" {
		close(p.ready)
		return p
	}
	go func() {
		defer close(p.ready)
		pkgs, err := hostPackages(hostFile)
		if err != nil {
			p.why = fmt.Sprintf("the host %s %v", hostFile, err)
			return
		}
		p.host = &Loaded{Name: "the host", File: hostFile, Packages: pkgs}
		p.loaded = append(p.loaded, p.host)
		p.infos[p.host] = info
	}()
	return p
}

// selfPackages are the running executable's package hashes, read once.
var selfPackages = sync.OnceValues(func() (*Packages, error) { return ReadPackages("/proc/self/exe") })

// hostPackages reads a host's package hashes; the running executable's
// are read once per process.
func hostPackages(file string) (*Packages, error) {
	if file == "/proc/self/exe" {
		return selfPackages()
	}
	return ReadPackages(file)
}

// Exact says whether Check decides as plugin.Open will (the host exports
// package hashes), and if not, why.
func (p *Process) Exact() (bool, string) {
	<-p.ready
	if p.host != nil {
		return true, ""
	}
	if p.why == "" && p.info == nil {
		return false, "no host given: plugins are checked against each other only"
	}
	return false, p.why + ": decided on build information, which cannot see every difference"
}

// Check decides whether the plugin name in file can load into the process
// next to what it has loaded, and records it when it can. info is the
// plugin's build information (nil if it has none). A refusal is a
// *BuildMismatchError, or says that the plugin's package hashes cannot be
// read (a damaged file, or one rewritten while it was read).
func (p *Process) Check(name, file string, info *debug.BuildInfo) error {
	<-p.ready
	pkgs, perr := p.Fetch.Packages(file)
	if perr != nil && !errors.Is(perr, ErrNoHashes) {
		return fmt.Errorf("its package hashes cannot be read (%w): %s", perr, elfFixCopy)
	}
	if p.info != nil && (p.host == nil || perr != nil) {
		// The host's or the plugin's hashes are missing: build information
		// is all there is to compare with the host.
		if err := CompareBuild(info, p.info); err != nil {
			return err
		}
	}
	if perr != nil {
		return nil
	}
	conflicts := Conflicts(p.loaded, pkgs)
	if len(conflicts) == 0 {
		p.add(name, file, pkgs, info)
		return nil
	}
	c := pickConflict(conflicts, info, p.infos)
	e := &BuildMismatchError{Package: c.Package, With: c.Holder.Name}
	holderInfo := p.infos[c.Holder]
	who := "host"
	if c.Holder != p.host {
		who = c.Holder.Name
	}
	if mm, ok := errors.AsType[*BuildMismatchError](compareBuild(info, holderInfo, who)); ok {
		e.Differences = append(e.Differences, mm.Differences...)
	}
	e.Differences = append(e.Differences, sourceDifferences(c, file, info, holderInfo)...)
	if c.Holder == p.host && slices.ContainsFunc(e.Differences, func(d string) bool { return strings.HasPrefix(d, "module ") }) {
		e.Differences = append(e.Differences, "opa build --host BINARY, run in the plugin's module, builds it with all of the host's settings and module versions")
	}
	if len(e.Differences) == 0 {
		fix := "build the plugin against the host's exact source (opa build --host BINARY does)"
		if c.Holder != p.host {
			fix = "build both plugins against the same source of " + c.Package
		}
		e.Differences = []string{fmt.Sprintf("%s's source differs from %s's copy, with the same module version, directory and flags (an edited file?): %s",
			c.Package, c.Holder.Name, fix)}
	}
	return e
}

// pickConflict chooses the conflict to name: the first whose package is in a
// module that the plugin and the holder have at different versions (the
// one a person changed), else runtime (a toolchain or flag difference
// changes every package), else the first.
func pickConflict(cs []Conflict, plugin *debug.BuildInfo, infos map[*Loaded]*debug.BuildInfo) Conflict {
	for _, c := range cs {
		mp, mh := moduleOf(c.Package, plugin), moduleOf(c.Package, infos[c.Holder])
		if mp == nil || mh == nil || mp.Path != mh.Path {
			continue
		}
		if vp, vh := builtVersion(mp), builtVersion(mh); vp != "" && vh != "" && vp != vh {
			return c
		}
	}
	for _, c := range cs {
		if c.Package == "runtime" {
			return c
		}
	}
	return cs[0]
}

// moduleOf returns the module of info that provides pkg, or nil.
func moduleOf(pkg string, info *debug.BuildInfo) *debug.Module {
	if info == nil {
		return nil
	}
	var best *debug.Module
	for _, m := range append([]*debug.Module{&info.Main}, info.Deps...) {
		if m.Path != "" && (pkg == m.Path || strings.HasPrefix(pkg, m.Path+"/")) && (best == nil || len(m.Path) > len(best.Path)) {
			best = m
		}
	}
	return best
}

// builtVersion is the version a module was built at, after its replace; ""
// for a local directory, whose build information says too little.
func builtVersion(m *debug.Module) string {
	if m.Replace != nil {
		m = m.Replace
	}
	if m.Version == "" || m.Version == "(devel)" {
		return ""
	}
	return m.Path + "@" + m.Version
}

func (p *Process) add(name, file string, pkgs *Packages, info *debug.BuildInfo) {
	l := &Loaded{Name: "plugin " + name, File: file, Packages: pkgs}
	p.loaded = append(p.loaded, l)
	p.infos[l] = info
}

// sourceDifferences explains a conflict from where each binary compiled
// the package: without -trimpath the directory is part of its hash, with
// -trimpath the module's version string is.
func sourceDifferences(c Conflict, file string, plugin, holder *debug.BuildInfo) []string {
	dp, dh := SourceDirs(file, c.Holder.File, c.Package)
	if dp == "" || dh == "" || dp == dh {
		return nil
	}
	trimP, trimH := !path.IsAbs(dp), !path.IsAbs(dh)
	if !trimP && !trimH && strings.Contains(dp, "@") && strings.Contains(dh, "@") {
		return nil // both from the module cache: the module versions differ, and the build differences say so
	}
	switch {
	case trimP && trimH:
		return []string{fmt.Sprintf("%s compiled %s as %s, the plugin as %s: with -trimpath the module's version string is part of the package's hash, also for a replaced directory: require the same version as %s in the plugin's go.mod (opa build --host BINARY does)",
			c.Holder.Name, c.Package, dh, dp, c.Holder.Name)}
	case !trimP && !trimH:
		return []string{fmt.Sprintf("%s compiled %s from the directory %s without -trimpath, the plugin from %s: without -trimpath the source directory is part of the package's hash: build the plugin from that same directory (opa build --host BINARY does), or build the host and its plugins with -trimpath",
			c.Holder.Name, c.Package, dh, dp)}
	}
	return nil // one built with -trimpath and one without: the build differences say so
}
