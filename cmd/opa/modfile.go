package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/opa-stack/opa-go/internal/preflight"
)

// A plugin built in its own module must use, for every module it shares
// with the host, exactly the host's version, from the host's source: the
// runtime compares package hashes, which cover the source and, without
// -trimpath, its directory. matchHost writes a temporary go.mod (passed to
// go build with -modfile) that pins those modules as the host's build
// information says; the plugin's own go.mod is never changed.

// matchHost pins, in a copy of the plugin's go.mod in tmp, every module of
// the plugin's build list that the host has to the host's version and
// source, and returns the -modfile argument. hostFile is the host binary;
// env the go command's environment.
func matchHost(env []string, hostFile string, host *debug.BuildInfo, tmp string) (string, error) {
	gomod, err := goOutput(env, "env", "GOMOD")
	if err != nil {
		return "", err
	}
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in a module: run opa build in the plugin's module (the directory of its go.mod)")
	}
	modfile := filepath.Join(tmp, "go.mod")
	if err := copyIfExists(gomod, modfile); err != nil {
		return "", err
	}
	if err := copyIfExists(strings.TrimSuffix(gomod, ".mod")+".sum", filepath.Join(tmp, "go.sum")); err != nil {
		return "", err
	}
	own, err := goOutput(env, "list", "-m")
	if err != nil {
		return "", err
	}
	deps := map[string]*debug.Module{}
	for _, d := range host.Deps {
		deps[d.Path] = d
	}
	if host.Main.Path != "" && host.Main.Path != own {
		deps[host.Main.Path] = &host.Main
	}
	pinned := map[string]bool{}
	// Pinning a version can bring new modules into the build list: repeat
	// until nothing new appears.
	for range 5 {
		list, err := goOutput(env, "list", "-m", "-modfile="+modfile, "-mod=mod", "all")
		if err != nil {
			return "", err
		}
		var edits []string
		for line := range strings.Lines(list) {
			path, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			d, shared := deps[path]
			if !shared || pinned[path] || path == own {
				continue
			}
			pinned[path] = true
			e, err := pinEdits(hostFile, host, d)
			if err != nil {
				return "", err
			}
			edits = append(edits, e...)
		}
		if len(edits) == 0 {
			return modfile, nil
		}
		if _, err := goOutput(env, append([]string{"mod", "edit", "-modfile=" + modfile}, edits...)...); err != nil {
			return "", err
		}
	}
	return modfile, nil
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

// copyIfExists copies src to dst; a missing src is no error.
func copyIfExists(src, dst string) error {
	b, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
