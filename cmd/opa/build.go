package main

import (
	"bytes"
	"errors"
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
	usage:   "build --host BINARY [-o DIR] [--no-downgrade] PACKAGE... | MODULE@VERSION...",
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

A module the plugin requires that the host built from a local directory
(opa-go itself, unpublished; a module the host's go.mod replaces) is taken
from that directory when it exists here, with no go.mod edit. Every
version or replace the build changes is printed before the go command,
one line each ("golang.org/x/sys v0.50.0 -> v0.49.0 (the host's)");
--no-downgrade refuses a build that gives the plugin an older version than
it asks for, and a failed build after a downgrade names it.

A MODULE@VERSION (not checked out) is built in a temporary main module
that requires it, fetched by the go command through GOPROXY (file:// too),
with the same pinning, check and rename.

Exit status: 0 built and accepted, 1 refused or failed, 2 a usage error.`,
	examples: `  opa build --host /usr/local/bin/myhost -o /data/opa/plugins ./plugins/hello
  opa build --host ./build/host -o ./build/plugins ./plugins/...
  opa build --host ./build/host -o ./build/plugins example.com/myplugin@v1.2.0`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		host := fs.String("host", "", "the host `BINARY` the plugins are built for (required)")
		out := fs.String("o", ".", "write each plugin to `DIR`/NAME.so (created if missing)")
		noDowngrade := fs.Bool("no-downgrade", false, "refuse to build a plugin with an older version of a module than it asks for (the host's)")
		return func(c *cli, targets []string) int { return runBuild(c, *host, *out, *noDowngrade, targets) }
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

func runBuild(c *cli, hostFile, dir string, noDowngrade bool, targets []string) int {
	host, err := readHost(hostFile)
	if err != nil {
		return c.usageErr("%v", err)
	}
	if len(targets) == 0 {
		return c.usageErr("no PACKAGE given: name the plugin packages to build (e.g. ./plugins/hello), or MODULE@VERSION")
	}
	if dir == "" {
		return c.usageErr("-o: give a directory")
	}
	var pkgs, remote []string
	for _, t := range targets {
		switch {
		case isRemote(t):
			remote = append(remote, t)
		case isLocal(t) && !strings.Contains(t, "..."):
			if _, err := os.Stat(t); err != nil {
				return c.usageErr("%s: no such package directory", t)
			}
			pkgs = append(pkgs, t)
		default:
			pkgs = append(pkgs, t)
		}
	}
	b, err := newBuilder(c, hostFile, host)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	b.noDowngrade = noDowngrade
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.errorf("-o %s: %v", dir, err)
		return exitFailed
	}
	var built []builtPlugin
	defer func() { removeTemps(built) }()
	if len(pkgs) > 0 {
		out, err := b.build("", pkgs, dir, false)
		built = append(built, out...)
		if err != nil {
			c.errorf("%v", err)
			return exitFailed
		}
	}
	for _, t := range remote {
		out, err := b.buildRemote(t, dir)
		built = append(built, out...)
		if err != nil {
			c.errorf("%v", err)
			return exitFailed
		}
	}
	if !b.check(built, nil) {
		return exitFailed
	}
	for i := range built {
		if err := installFile(built[i].temp, built[i].file); err != nil {
			c.errorf("%v", err)
			return exitFailed
		}
		built[i].temp = ""
		fmt.Fprintf(c.stdout, "%s: OK\n", built[i].file)
	}
	return exitOK
}

// builder builds plugins for one host.
type builder struct {
	c           *cli
	hostFile    string
	host        *debug.BuildInfo
	plan        plan
	env         []string // the go command's: this process's, with the plan's
	noDowngrade bool     // a downgrade is an error, before building
}

// builtPlugin is one plugin built to a hidden file, not yet installed.
type builtPlugin struct {
	name   string // NAME: the file is NAME.so
	pkg    string // its import path
	srcDir string // its package's directory, where a meta.json may be
	temp   string // the hidden file it was built to, beside file; "" once installed
	file   string // where it goes
}

// removeTemps removes the hidden files of plugins not installed.
func removeTemps(built []builtPlugin) {
	for _, b := range built {
		if b.temp != "" {
			os.Remove(b.temp)
		}
	}
}

// newBuilder reads the host's plan, and says what it cannot do.
func newBuilder(c *cli, hostFile string, host *debug.BuildInfo) (*builder, error) {
	if why := cannotLoad(host); why != "" {
		return nil, errors.New(why)
	}
	for _, w := range hostWarnings(host) {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	b := &builder{c: c, hostFile: hostFile, host: host, plan: buildPlan(host)}
	b.env = append(os.Environ(), b.plan.env...)
	local, err := goRunner{env: b.env}.output("env", "GOVERSION")
	if err != nil {
		return nil, err
	}
	if want, _, _ := strings.Cut(b.plan.goVersion, " "); want != "" && want != local {
		// The go command fetches the host's toolchain through the proxy.
		b.plan.env = append(b.plan.env, "GOTOOLCHAIN="+want)
		b.env = append(b.env, "GOTOOLCHAIN="+want)
	}
	return b, nil
}

// build builds pkgs, in the module of moduleDir ("": the current
// directory), each to a hidden file in outDir. every is matchHost's. It
// prints what pinning to the host's modules changed, then each go command.
// On an error, the plugins it returns hold temps to remove.
func (b *builder) build(moduleDir string, pkgs []string, outDir string, every bool) ([]builtPlugin, error) {
	tmp, err := os.MkdirTemp("", "opa-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	g := goRunner{env: b.env, dir: moduleDir}
	pins, err := matchHost(g, b.hostFile, b.host, tmp, every)
	if err != nil {
		return nil, fmt.Errorf("cannot build with the host's modules: %w", err)
	}
	for _, ch := range pins.changes {
		fmt.Fprintln(b.c.stdout, ch.line)
	}
	downs := pins.downgrades()
	if b.noDowngrade && len(downs) > 0 {
		return nil, fmt.Errorf("--no-downgrade: the host's modules are older than the plugin asks for:\n    %s\nbuild the plugin against the host's versions, or rebuild the host with the newer ones", strings.Join(downs, "\n    "))
	}
	flags := slices.Concat(b.plan.flags, []string{"-modfile=" + pins.modfile, "-mod=mod"})
	mains, err := listMains(g, flags, pkgs)
	if err != nil {
		return nil, err
	}
	var built []builtPlugin
	for _, m := range mains {
		name := path.Base(m.importPath)
		p := builtPlugin{name: name, pkg: m.importPath, srcDir: m.dir,
			file: filepath.Join(outDir, name+".so"), temp: filepath.Join(outDir, "."+name+".so.tmp")}
		// The go command runs in moduleDir: a relative outDir is this
		// process's.
		out, err := filepath.Abs(p.temp)
		if err != nil {
			return built, err
		}
		args := slices.Concat([]string{"build", "-buildmode=plugin"}, flags, []string{"-o", out, m.importPath})
		fmt.Fprintln(b.c.stdout, shellLine(b.plan.env, "go", args))
		cmd := exec.Command("go", args...)
		cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = b.env, moduleDir, b.c.stderr, b.c.stderr
		built = append(built, p)
		if err := cmd.Run(); err != nil {
			if len(downs) > 0 {
				return built, fmt.Errorf("go build of %s failed: %v; it was built with older modules than it asks for, which may be the cause:\n    %s\nmake the plugin work with the host's versions, or rebuild the host with the newer ones", m.importPath, err, strings.Join(downs, "\n    "))
			}
			return built, fmt.Errorf("go build of %s failed: %v", m.importPath, err)
		}
	}
	return built, nil
}

// check runs the host's checks on the built plugins, after the files
// installed (in the host's load order), and prints each refusal. It
// reports whether every plugin passed.
func (b *builder) check(built []builtPlugin, installed []installedPlugin) bool {
	files := make([]string, 0, len(installed)+len(built))
	for _, p := range installed {
		files = append(files, p.file)
	}
	for _, p := range built {
		files = append(files, p.temp)
	}
	h := &opa.Host{File: b.hostFile, Build: b.host}
	ok := true
	for i, err := range opa.CheckPlugin(h, files...) {
		if i < len(installed) {
			continue // what is installed already is the host's business
		}
		p := built[i-len(installed)]
		reasons := checkReasons(p.temp, err)
		if len(reasons) == 0 {
			continue
		}
		ok = false
		for j, r := range reasons {
			reasons[j] = nameInstalled(r, installed)
		}
		printRefused(b.c.stdout, p.file+": REFUSED (not written)", reasons)
	}
	return ok
}

// nameInstalled replaces, in a reason, the file of an installed plugin
// by "plugin NAME (FILE)", so that a conflict names what it conflicts with.
func nameInstalled(reason string, installed []installedPlugin) string {
	for _, p := range installed {
		if strings.Contains(reason, p.file) && !strings.Contains(reason, "plugin "+p.name) {
			return strings.Replace(reason, p.file, "plugin "+p.name+" ("+p.file+")", 1)
		}
	}
	return reason
}

// mainPkg is a package main to build.
type mainPkg struct{ importPath, dir string }

// listMains resolves package arguments (patterns too) to import paths with
// go list, and checks that each is a package main with its own name. It
// uses go list -find, which does not load the packages' imports: the go
// build that follows does, and says what is missing. Loading them here
// took about a third of what opa add adds to a plain build (see the opa
// add row of BENCHMARKS.md).
func listMains(g goRunner, flags, pkgs []string) ([]mainPkg, error) {
	out, err := g.output(slices.Concat([]string{"list", "-find", "-f", "{{.Name}} {{.ImportPath}} {{.Dir}}"}, flags, pkgs)...)
	if err != nil {
		return nil, err
	}
	var mains []mainPkg
	byName := map[string]string{}
	for line := range strings.Lines(out) {
		name, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		importPath, dir, _ := strings.Cut(rest, " ")
		if name != "main" {
			return nil, fmt.Errorf("%s is package %s: a plugin must be a package main", importPath, name)
		}
		base := path.Base(importPath)
		if prev, dup := byName[base]; dup {
			return nil, fmt.Errorf("%s and %s would both be written to %s.so: build them with separate -o directories", prev, importPath, base)
		}
		byName[base] = importPath
		mains = append(mains, mainPkg{importPath, dir})
	}
	return mains, nil
}

// isLocal says whether a package argument is a directory (./x, ../x, /x)
// rather than an import path.
func isLocal(pkg string) bool {
	return pkg == "." || pkg == ".." || strings.HasPrefix(pkg, "./") || strings.HasPrefix(pkg, "../") || filepath.IsAbs(pkg)
}

// goRunner runs the go command with env in dir ("": the current
// directory).
type goRunner struct {
	env []string
	dir string
}

// output runs the go command and returns its trimmed output; its error
// holds what go printed.
func (g goRunner) output(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Env, cmd.Dir = g.env, g.dir
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
