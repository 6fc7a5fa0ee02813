package preflight

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// BuildMismatchError means a .so plugin cannot load next to the host, or
// next to a plugin loaded before it, so plugin.Open would fail with "plugin
// was built with a different version of package ..." (naming only the
// first, often internal, package). Package and With say which package and
// whose copy, as the runtime's package hashes decide; Differences explain
// why, from the build information and where each binary compiled the
// package, each in plain words with the fix, for example "built without
// -race, host built with -race: rebuild the plugin with -race".
type BuildMismatchError struct {
	// Package is the first package whose hash differs from the copy already
	// loaded, as plugin.Open would name it; "" when the verdict comes from
	// build information only.
	Package string
	// With holds that other copy: "the host", or "plugin NAME" for a plugin
	// loaded before.
	With string
	// Differences explain the mismatch, each in plain words with its fix.
	Differences []string
}

// Error names the package and who holds the other copy, then joins the
// differences with "; ".
func (e *BuildMismatchError) Error() string {
	why := strings.Join(e.Differences, "; ")
	if e.Package == "" {
		return why
	}
	return e.Head() + " " + why
}

// Head is what Error says before the differences of a package mismatch:
// which package differs from whose copy; "" when Package is empty.
func (e *BuildMismatchError) Head() string {
	if e.Package == "" {
		return ""
	}
	return fmt.Sprintf("package %s differs from %s's copy, so plugin.Open would refuse it:", e.Package, e.With)
}

// hostBuildInfo reads this binary's build information once.
var hostBuildInfo = sync.OnceValues(debug.ReadBuildInfo)

// HostBuildInfo is this binary's build information, or nil where it has none.
func HostBuildInfo() *debug.BuildInfo {
	if info, ok := hostBuildInfo(); ok {
		return info
	}
	return nil
}

// ReadBuild reads the build information of the plugin in file; an error
// says in plain words why it cannot, and how to fix it.
func ReadBuild(file string) (*debug.BuildInfo, error) {
	f, _, err := OpenFile(file)
	if nr, ok := errNotRegular(err); ok {
		return nil, errors.New(nr.Reason())
	}
	if err != nil {
		return nil, fmt.Errorf("cannot be read (%w): check that it exists and is readable", err)
	}
	defer f.Close()
	info, err := buildinfo.Read(f)
	if err != nil {
		if _, ok := errors.AsType[*fs.PathError](err); ok {
			return nil, fmt.Errorf("cannot be read (%w): check that it is readable", err)
		}
		return nil, noBuildInfoError(err.Error())
	}
	return info, nil
}

// MainModule is the module a binary's main package belongs to: the one,
// among its main module and dependencies, whose path is the longest prefix
// of the package's path. A plugin built in its own module has it as its
// main module, at "(devel)" (or a VCS version); one built as a dependency
// of a temporary main module (opa build MODULE@VERSION) as a dependency, at
// the version fetched. nil when info is nil or names no such module.
func MainModule(info *debug.BuildInfo) *debug.Module {
	if info == nil {
		return nil
	}
	var best *debug.Module
	for _, m := range append([]*debug.Module{&info.Main}, info.Deps...) {
		if m.Path == "" || (info.Path != m.Path && !strings.HasPrefix(info.Path, m.Path+"/")) {
			continue
		}
		if best == nil || len(m.Path) > len(best.Path) {
			best = m
		}
	}
	return best
}

func noBuildInfoError(why string) error {
	return errors.New("has no Go build information (" + why + "; not a Go plugin, or stripped of it?): build it with go build -buildmode=plugin")
}

// buildBoolFlags are the build settings go build records as "true" when given,
// and that change the compiled code.
var buildBoolFlags = []string{"-race", "-trimpath", "-cover", "-asan", "-msan"}

// buildValueFlags are the other recorded settings that must match; none names an
// empty value.
var buildValueFlags = []struct{ key, none string }{
	{"GOOS", ""},
	{"GOARCH", ""},
	{"CGO_ENABLED", ""},
	{"GOEXPERIMENT", "no GOEXPERIMENT"},
	{"-tags", "no -tags"},
	{"-gcflags", "no -gcflags"},
}

// CompareBuild compares a plugin's build information with the host's and
// returns a *BuildMismatchError listing every difference that makes
// plugin.Open fail: Go version, GOOS/GOARCH, -race, -trimpath, -cover,
// -asan, -msan, CGO_ENABLED, GOEXPERIMENT, -tags, -gcflags, and the version
// and sum of every module both use (the main modules included), plus a
// plugin not built with -buildmode=plugin. A module that either side has as
// "(devel)" (a local replace or checkout) is not compared: if it differs,
// opening fails and explainOpenError translates the runtime's message. A
// nil host (no build information, rare) skips the comparison.
func CompareBuild(plugin *debug.BuildInfo, host *debug.BuildInfo) error {
	return compareBuild(plugin, host, "host")
}

// compareBuild is CompareBuild against the build information of other,
// which the messages call who: "host", or "plugin NAME" for a plugin loaded
// before.
func compareBuild(plugin, host *debug.BuildInfo, who string) error {
	whose := who + "'s"
	if who == "host" {
		whose = "the host's"
	}
	if plugin == nil {
		return noBuildInfoError("none found")
	}
	if host == nil {
		return nil
	}
	var diffs []string
	ps, hs := buildSettings(plugin), buildSettings(host)
	if mode, ok := ps["-buildmode"]; ok && mode != "plugin" {
		diffs = append(diffs, "built with -buildmode="+mode+": build it with -buildmode=plugin")
	}
	if plugin.GoVersion != host.GoVersion && plugin.GoVersion != "" && host.GoVersion != "" {
		diffs = append(diffs, fmt.Sprintf("built with %s, %s built with %s: rebuild the plugin with %s",
			plugin.GoVersion, who, host.GoVersion, host.GoVersion))
	}
	for _, s := range buildValueFlags {
		p, pok := ps[s.key]
		h, hok := hs[s.key]
		if s.none == "" && (!pok || !hok) { // not recorded: nothing to compare
			continue
		}
		if s.key == "GOEXPERIMENT" || s.key == "-tags" {
			p, h = buildList(p), buildList(h)
		}
		if p == h {
			continue
		}
		show := func(v string) string {
			if v == "" {
				return s.none
			}
			return s.key + "=" + v
		}
		fix := "rebuild the plugin with " + strconv.Quote(show(h))
		if !strings.ContainsAny(h, " \t'\"") {
			fix = "rebuild the plugin with " + show(h)
		}
		switch {
		case h == "":
			fix = "rebuild the plugin without " + s.key
		case s.key == "CGO_ENABLED" && h == "0":
			fix = "the host cannot load .so plugins at all: rebuild the host with CGO_ENABLED=1"
		}
		diffs = append(diffs, fmt.Sprintf("built with %s, %s built with %s: %s", show(p), who, show(h), fix))
	}
	for _, k := range buildBoolFlags {
		p, h := ps[k] == "true", hs[k] == "true"
		switch {
		case p && !h:
			diffs = append(diffs, fmt.Sprintf("built with %s, %s built without %s: rebuild the plugin without %s", k, who, k, k))
		case !p && h:
			diffs = append(diffs, fmt.Sprintf("built without %s, %s built with %s: rebuild the plugin with %s", k, who, k, k))
		}
	}
	diffs = append(diffs, moduleMismatches(plugin, host, who, whose)...)
	if len(diffs) == 0 {
		return nil
	}
	return &BuildMismatchError{Differences: diffs}
}

// buildSettings returns the build settings by key.
func buildSettings(info *debug.BuildInfo) map[string]string {
	m := make(map[string]string, len(info.Settings))
	for _, s := range info.Settings {
		m[s.Key] = s.Value
	}
	return m
}

// buildList sorts a comma-separated list, so "a,b" equals "b,a".
func buildList(s string) string {
	if s == "" {
		return ""
	}
	l := strings.Split(s, ",")
	slices.Sort(l)
	return strings.Join(l, ",")
}

// builtModule is a module as a binary was built with it, after replaces.
type builtModule struct {
	shown   string // "v1.2.0", or "=> example.com/fork v1.2.1" when replaced
	version string
	sum     string
	isMain  bool
}

// builtModules returns the binary's main module and dependencies by path.
func builtModules(info *debug.BuildInfo) map[string]builtModule {
	m := make(map[string]builtModule, len(info.Deps)+1)
	add := func(mod *debug.Module, isMain bool) {
		if mod == nil || mod.Path == "" {
			return
		}
		u := builtModule{shown: mod.Version, version: mod.Version, sum: mod.Sum, isMain: isMain}
		if r := mod.Replace; r != nil {
			u = builtModule{shown: strings.TrimSpace("=> " + r.Path + " " + r.Version), version: r.Version, sum: r.Sum, isMain: isMain}
		}
		m[mod.Path] = u
	}
	add(&info.Main, true)
	for _, d := range info.Deps {
		add(d, false)
	}
	return m
}

// moduleMismatches lists the modules both binaries use with a different version
// or content, sorted by path. A "(devel)" or empty version, a "+dirty" one,
// or a main module without a sum (its version comes from a VCS checkout)
// is a local build: not compared.
func moduleMismatches(plugin, host *debug.BuildInfo, who, whose string) []string {
	pm, hm := builtModules(plugin), builtModules(host)
	local := func(u builtModule) bool {
		return u.version == "" || u.version == "(devel)" || strings.HasSuffix(u.version, "+dirty") || (u.isMain && u.sum == "")
	}
	var diffs []string
	for _, path := range slices.Sorted(maps.Keys(pm)) {
		p := pm[path]
		h, ok := hm[path]
		if !ok || local(p) || local(h) {
			continue
		}
		fix := "go get " + path + "@" + h.version
		if strings.HasPrefix(h.shown, "=>") {
			fix = whose + " `replace " + path + " " + h.shown + "`"
		}
		switch {
		case p.version != h.version || (p.shown != h.shown && (p.sum == "" || h.sum == "")):
			diffs = append(diffs, fmt.Sprintf("module %s: plugin built with %s, %s with %s: rebuild the plugin with %s",
				path, p.shown, who, h.shown, fix))
		case p.sum != "" && h.sum != "" && p.sum != h.sum:
			diffs = append(diffs, fmt.Sprintf("module %s %s: plugin and %s were built with different contents (sum %s, %s %s): rebuild the plugin with %s copy (the same go.sum line for %s)",
				path, p.shown, who, p.sum, who, h.sum, whose, path))
		}
	}
	return diffs
}
