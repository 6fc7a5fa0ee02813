package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// A plugin is built with the host's module graph, not its own: every
// module the two share is pinned to the host's version and source. What
// that changed is printed, one line per module, before the go command runs
// (the plugin's author must see a downgrade or an ignored replace), and a
// downgrade can be made an error (--no-downgrade).

// listedModule is one module of `go list -m -json all`.
type listedModule struct {
	Path    string
	Version string
	Main    bool
	Replace *listedModule
}

// graph is a build list by module path.
type graph map[string]listedModule

// listGraph runs go list -m -json all in dir with the given go.mod.
func listGraph(g goRunner, modfile string) (graph, error) {
	out, err := g.output("list", "-m", "-json", "-modfile="+modfile, "-mod=mod", "all")
	if err != nil {
		return nil, err
	}
	gr := graph{}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var m listedModule
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return gr, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list -m -json all: %v", err)
		}
		if !m.Main {
			gr[m.Path] = m
		}
	}
}

// source describes where a module comes from: "v1.2.0", "=> ../dir" or
// "=> other v1.0.0".
func (m listedModule) source() string {
	if m.Replace == nil {
		return m.Version
	}
	return "=> " + strings.TrimSpace(m.Replace.Path+" "+m.Replace.Version)
}

// change is one difference between the plugin's own graph and the graph
// it is built with.
type change struct {
	line      string // what is printed
	downgrade bool   // the plugin gets an older version than it asks for
}

// diffGraphs lists, in the order of own's paths sorted, then the modules
// only final has, every module whose version or source differs between the
// plugin's own graph and final. host is the host's build information: a
// version that is the host's says so.
func diffGraphs(own, final graph, host *debug.BuildInfo, resolved map[string]string) []change {
	hostVersion := map[string]string{}
	for _, d := range host.Deps {
		hostVersion[d.Path] = builtVersionOf(d)
	}
	if host.Main.Path != "" {
		hostVersion[host.Main.Path] = "its own source"
	}
	why := func(path, version string) string {
		if hostVersion[path] == version {
			return "the host's"
		}
		return "required by the host's versions"
	}
	var out []change
	for _, path := range sortedKeys(own) {
		o := own[path]
		f, ok := final[path]
		if dir, isResolved := resolved[path]; isResolved {
			out = append(out, change{line: fmt.Sprintf("%s %s => %s (the directory the host built it from; the plugin's go.mod has no replace for it)", path, o.Version, dir)})
			continue
		}
		if !ok {
			out = append(out, change{line: fmt.Sprintf("%s %s dropped (not needed with the host's versions)", path, o.source())})
			continue
		}
		switch {
		case o.Replace != nil && f.Replace == nil:
			out = append(out, change{
				line:      fmt.Sprintf("replace %s %s ignored: the host built %s", path, o.source(), f.Version),
				downgrade: semverLess(effective(f), effective(o)),
			})
		case o.Replace != nil && f.Replace != nil && *o.Replace != *f.Replace:
			out = append(out, change{
				line:      fmt.Sprintf("replace %s %s ignored: the host built it %s", path, o.source(), f.source()),
				downgrade: semverLess(effective(f), effective(o)),
			})
		case o.Replace == nil && f.Replace != nil:
			out = append(out, change{
				line:      fmt.Sprintf("%s %s %s (the host's source)", path, o.Version, f.source()),
				downgrade: semverLess(effective(f), effective(o)),
			})
		case o.Version != f.Version:
			down := semverLess(f.Version, o.Version)
			out = append(out, change{line: fmt.Sprintf("%s %s -> %s (%s)", path, o.Version, f.Version, why(path, f.Version)), downgrade: down})
		}
	}
	for _, path := range sortedKeys(final) {
		if _, ok := own[path]; !ok {
			out = append(out, change{line: fmt.Sprintf("%s %s added (%s)", path, final[path].source(), why(path, final[path].Version))})
		}
	}
	return out
}

// effective is the version a module is built at: its replacement's
// version when replaced by another version, else its own ("" for a
// directory).
func effective(m listedModule) string {
	if m.Replace != nil {
		return m.Replace.Version
	}
	return m.Version
}

// builtVersionOf is the version a binary built a module at.
func builtVersionOf(d *debug.Module) string {
	if d.Replace != nil && d.Replace.Version != "" {
		return d.Replace.Version
	}
	return d.Version
}

func sortedKeys(g graph) []string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// semverLess reports whether version a is lower than b (Go module
// semantic versions: vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]). An empty or
// unparsable version is never less, nor is anything less than it.
func semverLess(a, b string) bool {
	pa, oka := parseSemver(a)
	pb, okb := parseSemver(b)
	if !oka || !okb {
		return false
	}
	for i := range 3 {
		if pa.nums[i] != pb.nums[i] {
			return pa.nums[i] < pb.nums[i]
		}
	}
	switch {
	case pa.pre == pb.pre:
		return false
	case pa.pre == "":
		return false // a release is above its pre-releases
	case pb.pre == "":
		return true
	}
	return prereleaseLess(pa.pre, pb.pre)
}

type semver struct {
	nums [3]int
	pre  string
}

func parseSemver(v string) (semver, bool) {
	var s semver
	rest, ok := strings.CutPrefix(v, "v")
	if !ok {
		return s, false
	}
	rest, _, _ = strings.Cut(rest, "+")
	rest, s.pre, _ = strings.Cut(rest, "-")
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return s, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return s, false
		}
		s.nums[i] = n
	}
	return s, true
}

// prereleaseLess compares pre-release strings as semver does: dot-separated
// identifiers, numeric ones numerically and below alphanumeric ones.
func prereleaseLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		na, errA := strconv.Atoi(as[i])
		nb, errB := strconv.Atoi(bs[i])
		switch {
		case errA == nil && errB == nil:
			return na < nb
		case errA == nil:
			return true
		case errB == nil:
			return false
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}
