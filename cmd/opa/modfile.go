package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/preflight"
)

// A plugin built in its own module must use, for every module it shares
// with the host, exactly the host's version, from the host's source: the
// runtime compares package hashes, which cover the source and, without
// -trimpath, its directory. matchHost writes a temporary go.mod (passed to
// go build with -modfile) that pins those modules as the host's build
// information says; the plugin's own go.mod is never changed.

// pinned is what matchHost made: the go.mod to build with and every way
// the graph it gives differs from the plugin's own.
type pinned struct {
	modfile string   // the -modfile argument
	changes []change // one per module whose version or source changed
}

// downgrades are the lines of the changes that give the plugin an older
// version than it asks for.
func (p pinned) downgrades() []string {
	var out []string
	for _, c := range p.changes {
		if c.downgrade {
			out = append(out, c.line)
		}
	}
	return out
}

// matchHost pins, in a copy of the plugin's go.mod in tmp, every module of
// the plugin's build list that the host has to the host's version and
// source. A module the plugin requires but its go.mod cannot resolve,
// which the host built from a local directory (the unpublished opa-go, a
// module the host's go.mod replaces), is taken from that directory when it
// exists here. hostFile is the host binary; g runs the go command in the
// plugin's module.
// every is resolveFromHost's: the plugin's module is a dependency of a
// temporary main module.
func matchHost(g goRunner, hostFile string, host *debug.BuildInfo, tmp string, every bool) (pinned, error) {
	gomod, err := g.output("env", "GOMOD")
	if err != nil {
		return pinned{}, err
	}
	if gomod == "" || gomod == os.DevNull {
		return pinned{}, errors.New("not in a module: run opa build in the plugin's module (the directory of its go.mod)")
	}
	modfile := filepath.Join(tmp, "go.mod")
	if err := copyIfExists(gomod, modfile); err != nil {
		return pinned{}, err
	}
	if err := copyIfExists(strings.TrimSuffix(gomod, ".mod")+".sum", filepath.Join(tmp, "go.sum")); err != nil {
		return pinned{}, err
	}
	mod, err := readGoMod(g, modfile)
	if err != nil {
		return pinned{}, err
	}
	deps := hostModules(host, mod.Module.Path)
	resolved, hints, err := resolveFromHost(g, hostFile, host, deps, modfile, mod, every)
	if err != nil {
		return pinned{}, err
	}
	ownGraph, err := listGraph(g, modfile)
	if err != nil {
		if len(hints) > 0 {
			return pinned{}, fmt.Errorf("%v\n%s", err, strings.Join(hints, "\n"))
		}
		return pinned{}, err
	}
	pins := map[string]bool{}
	gr := ownGraph
	// Pinning a version can bring new modules into the build list: repeat
	// until nothing new appears.
	for range 5 {
		var edits []string
		for _, path := range sortedKeys(gr) {
			d, shared := deps[path]
			if !shared || pins[path] {
				continue
			}
			pins[path] = true
			e, err := pinEdits(hostFile, host, d)
			if err != nil {
				return pinned{}, err
			}
			edits = append(edits, e...)
		}
		if len(edits) == 0 {
			break
		}
		if _, err := g.output(append([]string{"mod", "edit", "-modfile=" + modfile}, edits...)...); err != nil {
			return pinned{}, err
		}
		if gr, err = listGraph(g, modfile); err != nil {
			return pinned{}, err
		}
	}
	return pinned{modfile: modfile, changes: diffGraphs(ownGraph, gr, host, resolved)}, nil
}

// hostModules are the modules the host was built with, by path: its
// dependencies and its own module, unless that is own (the module being
// built).
func hostModules(host *debug.BuildInfo, own string) map[string]*debug.Module {
	deps := map[string]*debug.Module{}
	for _, d := range host.Deps {
		deps[d.Path] = d
	}
	if host.Main.Path != "" && host.Main.Path != own {
		deps[host.Main.Path] = &host.Main
	}
	return deps
}

// goModJSON is what go mod edit -json prints, as far as matchHost reads it.
type goModJSON struct {
	Module  struct{ Path string }
	Require []struct{ Path, Version string }
	Replace []struct {
		Old, New struct{ Path, Version string }
	}
}

// readGoMod reads a go.mod file with go mod edit -json.
func readGoMod(g goRunner, modfile string) (goModJSON, error) {
	var mod goModJSON
	out, err := g.output("mod", "edit", "-json", modfile)
	if err != nil {
		return mod, err
	}
	if err := json.Unmarshal([]byte(out), &mod); err != nil {
		return mod, fmt.Errorf("go mod edit -json %s: %v", modfile, err)
	}
	return mod, nil
}

// resolveFromHost gives the plugin's go.mod (modfile, as read into mod) a
// replace to the host's source directory for each module it requires,
// without a replace of its own, that the host built from a local
// directory: such a module is
// often not published (opa-go itself), so the plugin's graph cannot
// resolve it. It returns the modules so resolved, with their directory,
// and, for those whose directory is not here, the replace line that would
// work, to show if the graph then cannot be resolved.
//
// With every set (a temporary main module for MODULE@VERSION, whose go.mod
// requires only the plugin), every such module of the host is replaced,
// whether required or not: a replace of a module outside the graph does
// nothing.
func resolveFromHost(g goRunner, hostFile string, host *debug.BuildInfo, deps map[string]*debug.Module, modfile string, mod goModJSON, every bool) (map[string]string, []string, error) {
	replaced := map[string]bool{}
	for _, r := range mod.Replace {
		replaced[r.Old.Path] = true
	}
	resolved := map[string]string{}
	var hints, edits []string
	if every {
		mod.Require = mod.Require[:0]
		for _, path := range slices.Sorted(maps.Keys(deps)) {
			mod.Require = append(mod.Require, struct{ Path, Version string }{path, deps[path].Version})
		}
	}
	for _, req := range mod.Require {
		d, shared := deps[req.Path]
		if !shared || replaced[req.Path] || !fromDirectory(host, d) {
			continue
		}
		dir := preflight.ModuleDir(hostFile, d.Path)
		if st, err := os.Stat(dir); dir != "" && err == nil && st.IsDir() {
			resolved[d.Path] = dir
			edits = append(edits, "-replace="+d.Path+"="+dir)
			continue
		}
		if dir != "" {
			// Without -trimpath the directory is part of the package
			// hashes: only that one works.
			hints = append(hints, fmt.Sprintf("the host built %s from the directory %s, which is not on this machine; put the host's source there and add to the plugin's go.mod:\n    replace %s => %s",
				d.Path, dir, d.Path, dir))
			continue
		}
		hints = append(hints, fmt.Sprintf("the host built %s from a local directory (its binary, built with -trimpath, does not say which); add to the plugin's go.mod, ../%s being a checkout of the source the host was built from:\n    replace %s => ../%s",
			d.Path, pathBase(d.Path), d.Path, pathBase(d.Path)))
	}
	if len(edits) > 0 {
		if _, err := g.output(append([]string{"mod", "edit", "-modfile=" + modfile}, edits...)...); err != nil {
			return nil, nil, err
		}
	}
	return resolved, hints, nil
}

// fromDirectory says whether the host built module d from a local
// directory: its own module, or one its go.mod replaces by a directory.
func fromDirectory(host *debug.BuildInfo, d *debug.Module) bool {
	if d == &host.Main {
		return true
	}
	return d.Replace != nil && (d.Replace.Version == "" || d.Replace.Version == "(devel)")
}

// pathBase is the last element of a module path.
func pathBase(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// pinEdits are the go mod edit flags that give the plugin the host's copy of
// module d.
func pinEdits(hostFile string, host *debug.BuildInfo, d *debug.Module) ([]string, error) {
	version := d.Version
	if version == "" || version == "(devel)" {
		version = "v0.0.0"
	}
	edits := []string{"-require=" + d.Path + "@" + version}
	r := d.Replace
	if d == &host.Main {
		r = &debug.Module{Path: "./", Version: "(devel)"} // the host's own module: its directory
	}
	switch {
	case r == nil:
		return append(edits, "-dropreplace="+d.Path), nil
	case r.Version != "" && r.Version != "(devel)":
		return append(edits, "-replace="+d.Path+"="+r.Path+"@"+r.Version), nil
	}
	if trimpath(host) {
		// With -trimpath only the version string and the content count:
		// keep the plugin's own replace, if it has one.
		return edits, nil
	}
	// The host built the module from a local directory, which is part of
	// each package's hash without -trimpath: use the same one.
	dir := preflight.ModuleDir(hostFile, d.Path)
	if dir == "" {
		return nil, fmt.Errorf("the host built %s from a local directory (replace => %s), but its binary does not say where: build the plugin in the host's module, or build the host with -trimpath", d.Path, r.Path)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("the host built %s from the directory %s, which does not exist here: build the plugin where that directory exists, or build the host with -trimpath and give the plugin a replace of %s to the same source", d.Path, dir, d.Path)
	}
	return append(edits, "-replace="+d.Path+"="+dir), nil
}

// trimpath says whether a binary was built with -trimpath.
func trimpath(info *debug.BuildInfo) bool {
	return settingsOf(info)["-trimpath"] == "true"
}

// maxModFileSize is the most bytes of a go.mod or go.sum opa copies: a
// go.sum of a large module graph is a few megabytes.
const maxModFileSize = 64 << 20

// copyIfExists copies src (the plugin's go.mod or go.sum) to dst; a
// missing src is no error, a named pipe is refused, never waited on.
func copyIfExists(src, dst string) error {
	b, err := preflight.ReadNamed(src, "a "+filepath.Base(src), maxModFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
