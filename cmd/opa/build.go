package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go"
)

var buildCommand = &command{
	name:    "build",
	summary: "build plugins the way the host binary was built",
	usage:   "build --host BINARY [-o DIR] PACKAGE...",
	help: `Builds each PACKAGE (a package main) with go build -buildmode=plugin and
every setting that must match the host binary, read from its build
information: -race, -trimpath, -tags, -gcflags, -asan, -msan and -cover as
given to the host, and GOEXPERIMENT, CGO_ENABLED, GOOS, GOARCH and the
architecture level (GOAMD64, GOARM64, ...) in the environment. It prints
each go command it runs, exactly, then checks what it built as opa check
does.

Each package is written to DIR/NAME.so, NAME being the last element of its
import path (./plugins/hello gives DIR/hello.so). Run it in the plugin's
own module: every module the plugin shares with the host is pinned to the
host's version and source in a temporary go.mod (go build -modfile; the
plugin's go.mod is not changed), and a module the host built from a local
directory is built from that same directory when the host was built
without -trimpath (the directory is part of Go's package hashes). The
host's Go version is used (GOTOOLCHAIN=<version>, which the go command
fetches). Each plugin is built to a hidden file beside its place, checked
exactly as the host will check it, and only then renamed into place: a
refused or half-written .so never appears in the plugin directory.

Exit status: 0 built and accepted, 1 refused or failed, 2 a usage error.`,
	examples: `  opa build --host /usr/local/bin/myhost -o /data/opa/plugins ./plugins/hello
  opa build --host ./build/host -o ./build/plugins ./plugins/...`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		host := fs.String("host", "", "the host `BINARY` the plugins are built for (required)")
		out := fs.String("o", ".", "write each plugin to `DIR`/NAME.so (created if missing)")
		return func(c *cli, pkgs []string) int { return runBuild(c, *host, *out, pkgs) }
	},
}

// plan is how to build plugins for one host: the go build flags and the
// environment variables that must match it.
type plan struct {
	goVersion string   // the host's Go version: "go1.26.8"
	flags     []string // "-race", "-tags=a,b", ... in a fixed order
	env       []string // "CGO_ENABLED=1", "GOOS=linux", ... in a fixed order
}

// planBoolFlags are the go build flags recorded as "-flag=true" that change
// the compiled code; planValueFlags those recorded as "-flag=value".
var (
	planBoolFlags  = []string{"-race", "-msan", "-asan", "-cover", "-trimpath"}
	planValueFlags = []string{"-tags", "-gcflags"}
	// planEnv are the recorded environment settings passed on as they are
	// (GOEXPERIMENT is always set, empty when the host had none).
	planEnv = []string{"CGO_ENABLED", "GOOS", "GOARCH",
		"GO386", "GOAMD64", "GOARM", "GOARM64", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM"}
)

// buildPlan reads from a host's build information how plugins for it must
// be built.
func buildPlan(host *debug.BuildInfo) plan {
	s := settingsOf(host)
	p := plan{goVersion: host.GoVersion}
	for _, k := range planBoolFlags {
		if s[k] == "true" {
			p.flags = append(p.flags, k)
		}
	}
	for _, k := range planValueFlags {
		if v := s[k]; v != "" {
			p.flags = append(p.flags, k+"="+v)
		}
	}
	for _, k := range planEnv {
		if v, ok := s[k]; ok {
			p.env = append(p.env, k+"="+v)
		}
	}
	p.env = append(p.env, "GOEXPERIMENT="+s["GOEXPERIMENT"])
	return p
}

// describe sums up a plan in one line: "go1.26.8 -race CGO_ENABLED=1 ...",
// without empty variables.
func (p plan) describe() string {
	words := slices.Concat([]string{p.goVersion}, p.flags)
	for _, kv := range p.env {
		if !strings.HasSuffix(kv, "=") {
			words = append(words, kv)
		}
	}
	return strings.Join(words, " ")
}

func runBuild(c *cli, hostFile, dir string, pkgs []string) int {
	host, err := readHost(hostFile)
	if err != nil {
		return c.usageErr("%v", err)
	}
	if len(pkgs) == 0 {
		return c.usageErr("no PACKAGE given: name the plugin packages to build (e.g. ./plugins/hello)")
	}
	if dir == "" {
		return c.usageErr("-o: give a directory")
	}
	for _, pkg := range pkgs {
		if isLocal(pkg) && !strings.Contains(pkg, "...") {
			if _, err := os.Stat(pkg); err != nil {
				return c.usageErr("%s: no such package directory", pkg)
			}
		}
	}
	if why := cannotLoad(host); why != "" {
		c.errorf("%s", why)
		return exitFailed
	}
	for _, w := range hostWarnings(host) {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	p := buildPlan(host)
	env := append(os.Environ(), p.env...)
	local, err := goOutput(env, "env", "GOVERSION")
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if want, _, _ := strings.Cut(p.goVersion, " "); want != "" && want != local {
		// The go command fetches the host's toolchain through the proxy.
		p.env = append(p.env, "GOTOOLCHAIN="+want)
		env = append(env, "GOTOOLCHAIN="+want)
	}
	tmp, err := os.MkdirTemp("", "opa-build-")
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	defer os.RemoveAll(tmp)
	modfile, err := matchHost(env, hostFile, host, tmp)
	if err != nil {
		c.errorf("cannot build with the host's modules: %v", err)
		return exitFailed
	}
	flags := slices.Concat(p.flags, []string{"-modfile=" + modfile, "-mod=mod"})
	targets, err := listMains(env, flags, pkgs)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.errorf("-o %s: %v", dir, err)
		return exitFailed
	}
	// Each plugin is built to a hidden file beside its place (discovery
	// skips hidden names), checked, and only then renamed into place: a
	// refused or half-written .so never appears in a plugin directory.
	var files, temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	for _, pkg := range targets {
		file := filepath.Join(dir, path.Base(pkg)+".so")
		temp := filepath.Join(dir, "."+path.Base(pkg)+".so.tmp")
		args := slices.Concat([]string{"build", "-buildmode=plugin"}, flags, []string{"-o", temp, pkg})
		fmt.Fprintln(c.stdout, shellLine(p.env, "go", args))
		cmd := exec.Command("go", args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, c.stderr, c.stderr
		temps = append(temps, temp)
		if err := cmd.Run(); err != nil {
			c.errorf("go build of %s failed: %v", pkg, err)
			return exitFailed
		}
		files = append(files, file)
	}
	h := &opa.Host{File: hostFile, Build: host}
	ok := true
	for i, err := range opa.CheckPlugin(h, temps...) {
		if reasons := checkReasons(temps[i], err); len(reasons) > 0 {
			ok = false
			printRefused(c.stdout, files[i]+": REFUSED (not written)", reasons)
		}
	}
	if !ok {
		return exitFailed
	}
	for i, t := range temps {
		if err := os.Rename(t, files[i]); err != nil {
			c.errorf("%v", err)
			return exitFailed
		}
		fmt.Fprintf(c.stdout, "%s: OK\n", files[i])
	}
	temps = nil
	return exitOK
}

// listMains resolves package arguments (patterns too) to import paths with
// go list, and checks that each is a package main with its own name.
func listMains(env, flags, pkgs []string) ([]string, error) {
	out, err := goOutput(env, slices.Concat([]string{"list", "-f", "{{.ImportPath}} {{.Name}}"}, flags, pkgs)...)
	if err != nil {
		return nil, err
	}
	var paths []string
	byName := map[string]string{}
	for line := range strings.Lines(out) {
		importPath, name, _ := strings.Cut(strings.TrimSpace(line), " ")
		if name != "main" {
			return nil, fmt.Errorf("%s is package %s: a plugin must be a package main", importPath, name)
		}
		base := path.Base(importPath)
		if prev, dup := byName[base]; dup {
			return nil, fmt.Errorf("%s and %s would both be written to %s.so: build them with separate -o directories", prev, importPath, base)
		}
		byName[base] = importPath
		paths = append(paths, importPath)
	}
	return paths, nil
}

// isLocal says whether a package argument is a directory (./x, ../x, /x)
// rather than an import path.
func isLocal(pkg string) bool {
	return pkg == "." || pkg == ".." || strings.HasPrefix(pkg, "./") || strings.HasPrefix(pkg, "../") || filepath.IsAbs(pkg)
}

// goOutput runs the go command with env and returns its trimmed output; its
// error holds what go printed.
func goOutput(env []string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		why := strings.TrimSpace(stderr.String())
		if why == "" {
			why = err.Error()
		}
		return "", fmt.Errorf("%s failed: %s", shellLine(nil, "go", args), why)
	}
	return strings.TrimSpace(string(out)), nil
}

// shellLine renders a command with its environment as a shell would take
// it, quoting what needs quotes.
func shellLine(env []string, name string, args []string) string {
	var words []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		words = append(words, k+"="+shellValue(v))
	}
	words = append(words, name)
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "-") {
			words = append(words, k+"="+shellValue(v))
		} else {
			words = append(words, shellValue(a))
		}
	}
	return strings.Join(words, " ")
}

// shellValue quotes s for a POSIX shell when it holds anything but safe
// characters; an empty s stays empty (as in GOEXPERIMENT=).
func shellValue(s string) string {
	const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=+@%"
	if strings.Trim(s, safe) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
