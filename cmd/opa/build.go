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
import path (./plugins/hello gives DIR/hello.so). Packages are resolved, and
built, in the current directory's module: run it in the host's module, or in
one with the same module versions (the check names any that differ).

The go command on PATH must be the Go version the host was built with; if
it is not, nothing is built and the message names the version needed
(GOTOOLCHAIN=goX.Y.Z opa build ... fetches it).

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

// toolchainError says why a go command of version local cannot build
// plugins for the plan's host, or returns nil.
func (p plan) toolchainError(local string) error {
	want, _, _ := strings.Cut(p.goVersion, " ") // "go1.26.8 X:exp" names experiments too
	if want == "" || local == want {
		return nil
	}
	return fmt.Errorf("the host was built with %s, and the go command here is %s: plugins must be built with the host's Go version; install %s, or run opa build again with GOTOOLCHAIN=%s", want, local, want, want)
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
	if err := p.toolchainError(local); err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	targets, err := listMains(env, p.flags, pkgs)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.errorf("-o %s: %v", dir, err)
		return exitFailed
	}
	var files []string
	for _, pkg := range targets {
		file := filepath.Join(dir, path.Base(pkg)+".so")
		args := slices.Concat([]string{"build", "-buildmode=plugin"}, p.flags, []string{"-o", file, pkg})
		fmt.Fprintln(c.stdout, shellLine(p.env, "go", args))
		cmd := exec.Command("go", args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, c.stderr, c.stderr
		if err := cmd.Run(); err != nil {
			c.errorf("go build of %s failed: %v", pkg, err)
			return exitFailed
		}
		files = append(files, file)
	}
	if !checkFiles(c.stdout, host, files) {
		return exitFailed
	}
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
