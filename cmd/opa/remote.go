package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A plugin that is not checked out, MODULE@VERSION, is built the way xcaddy
// builds Caddy: in a temporary main module that requires it. The go command
// fetches it through GOPROXY (any proxy it accepts, file:// too) and checks
// it against GOSUMDB, GONOSUMDB and GOFLAGS as usual; the pinning to the
// host's modules, the check and the rename are those of a local build. The
// plugin module's own replace directives do not apply (a dependency's never
// do).

// isRemote says whether a target is MODULE@VERSION (or PACKAGE@VERSION).
func isRemote(target string) bool {
	return strings.Contains(target, "@") && !isLocal(target) && !strings.HasSuffix(target, ".so")
}

// buildRemote builds target, PACKAGE@VERSION, to a hidden file in outDir.
func (b *builder) buildRemote(target, outDir string) ([]builtPlugin, error) {
	pkg, version, _ := strings.Cut(target, "@")
	if pkg == "" || version == "" {
		return nil, fmt.Errorf("%s: give MODULE@VERSION, e.g. example.com/myplugin@v1.2.0 or @latest", target)
	}
	tmp, err := os.MkdirTemp("", "opa-main-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	goVersion, _, _ := strings.Cut(strings.TrimPrefix(b.host.GoVersion, "go"), " ")
	gomod := filepath.Join(tmp, "go.mod")
	if err := os.WriteFile(gomod, []byte("module opa-build-main\n\ngo "+goVersion+"\n"), 0o644); err != nil {
		return nil, err
	}
	g := goRunner{env: b.env, dir: tmp}
	deps := hostModules(b.host, "opa-build-main")
	// The modules the host built from directories are given first: the
	// plugin may require one that is not published (opa-go itself).
	mod, err := readGoMod(g, gomod)
	if err != nil {
		return nil, err
	}
	resolved, hints, err := resolveFromHost(g, b.hostFile, b.host, deps, gomod, mod, true)
	if err != nil {
		return nil, err
	}
	if _, err := g.output("get", target); err != nil {
		if len(hints) > 0 {
			return nil, fmt.Errorf("%s: %v\n%s", target, err, strings.Join(hints, "\n"))
		}
		return nil, fmt.Errorf("%s: %v", target, err)
	}
	graph, err := listGraph(g, gomod)
	if err != nil {
		return nil, err
	}
	for _, path := range sortedKeys(graph) {
		if dir, ok := resolved[path]; ok {
			fmt.Fprintf(b.c.stdout, "%s %s => %s (the directory the host built it from)\n", path, graph[path].Version, dir)
		}
	}
	return b.build(tmp, []string{pkg}, outDir, true)
}
