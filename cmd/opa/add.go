package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opa-stack/opa-go"
)

var addCommand = &command{
	name:    "add",
	summary: "build, check and install plugins into a plugin directory, and reload the host",
	usage:   "add --host BINARY [--path DIR] [--pidfile FILE] [--timeout D] [--lock] [--no-downgrade] TARGET...",
	help: `Installs plugins into the plugin directory DIR, and into the running host
when --pidfile is given. Each TARGET is a directory holding a plugin's
module or package (built as opa build does, in its own module), a
MODULE@VERSION (fetched by the go command, as opa build does), or a built
.so file.

Each result is checked against the host and against the plugins already in
the host's plugin paths, in the host's load order, exactly as the host will
check it: a plugin that cannot load next to one already installed is
refused, naming it, and nothing is installed. A plugin named like one
already installed replaces it. Each file is written under a hidden name in
DIR, synced and renamed into place: a running host never sees a partial
file. A meta.json beside the plugin's source (meta.json or NAME-meta.json)
is installed with it, as NAME-meta.json (meta.json for a directory plugin,
DIR/NAME/plugin.so).

With --pidfile (the host's serve PID file), the host is sent SIGHUP and opa
waits for the outcome of the reload (PIDFILE.reload): it prints the PID
that serves the new set, or why the old process serves on; then it puts
DIR back as it was and exits 1.

When DIR holds an opa.lock (see opa lock), it is rewritten to record the
new files, and --lock starts one. With --pidfile, the lock is part of the
step: a reload that fails puts the lock back with the files. The
fingerprints of the set before and after (as the host will report them,
see opa fleet) are printed.

--path may be left out when the host's settings (read as opa ls reads
them: OPA_SETTINGS_DIR, ENV, OPA_PLUGIN_PATHS) name exactly one plugin path.

Exit status: 0 installed (and reloaded), 1 refused, failed, or the host did
not take the new set, 2 a usage error.`,
	examples: `  opa add --host /usr/local/bin/myhost --path /data/opa/plugins --pidfile /run/myhost.pid ./myplugin
  opa add --host ./build/host --path ./build/plugins example.com/myplugin@v1.2.0
  opa add --host ./build/host --path ./build/plugins ./other/build/hello.so`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		var o deployOptions
		o.define(fs)
		fs.BoolVar(&o.noDowngrade, "no-downgrade", false, "refuse to build a plugin with an older version of a module than it asks for (the host's)")
		fs.BoolVar(&o.lock, "lock", false, "start an opa.lock in DIR if it has none (one that exists is always kept current)")
		return func(c *cli, targets []string) int { return runAdd(c, o, targets) }
	},
}

// deployOptions are the flags opa add and opa remove share.
type deployOptions struct {
	host, path, pidFile string
	timeout             time.Duration
	noDowngrade         bool
	lock                bool // opa add --lock
}

func (o *deployOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.host, "host", "", "the host `BINARY` that loads the plugins")
	fs.StringVar(&o.path, "path", "", "the plugin `DIR` to install into (default: the one plugin path of the host's settings)")
	fs.StringVar(&o.pidFile, "pidfile", "", "reload the host whose serve PID `FILE` this is, and wait for the outcome")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "wait this long for the outcome of the reload")
}

// pluginDir is the directory to install into: --path, or the one plugin
// path of the host's settings. It also returns the host's settings, with
// --path as its plugin paths when they do not hold it.
func (o deployOptions) pluginDir() (string, opa.Config, error) {
	cfg, err := opa.LoadConfig(nil)
	if err != nil {
		return "", cfg, err
	}
	dir := o.path
	if dir == "" {
		if len(cfg.PluginPaths) != 1 {
			return "", cfg, fmt.Errorf("--path is required: the host's settings name %d plugin paths (PLUGIN_PATHS: %q), not one: say which to install into", len(cfg.PluginPaths), cfg.PluginPaths)
		}
		dir = cfg.PluginPaths[0]
	}
	if err := checkDir("--path", dir); err != nil {
		return "", cfg, err
	}
	if !slices.ContainsFunc(cfg.PluginPaths, func(p string) bool { return sameDir(p, dir) }) {
		cfg.PluginPaths = []string{dir}
	}
	return dir, cfg, nil
}

// sameDir says whether two paths name one directory.
func sameDir(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// installedSet is what explainInstalled returned.
type installedSet struct {
	plugins []installedPlugin
	report  opa.Report
	err     error
}

// explainInstalled returns the plugins that would load with cfg, in load
// order, and the report of Explain.
func explainInstalled(cfg opa.Config, host *opa.Host) ([]installedPlugin, opa.Report, error) {
	m, err := opa.New(opa.WithConfig(cfg), opa.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, opa.Report{}, err
	}
	rep, err := m.Explain(host)
	if err != nil && len(rep.Plugins) == 0 {
		return nil, rep, err
	}
	var out []installedPlugin
	for _, p := range rep.Plugins {
		if p.Loaded && !p.Builtin && p.File != "" {
			out = append(out, installedPlugin{name: p.Name, file: p.File})
		}
	}
	return out, rep, nil
}

func runAdd(c *cli, o deployOptions, targets []string) int {
	host, err := readHost(o.host)
	if err != nil {
		return c.usageErr("%v", err)
	}
	if len(targets) == 0 {
		return c.usageErr("no TARGET given: name plugin directories, MODULE@VERSION or .so files")
	}
	for _, t := range targets {
		if !isRemote(t) {
			if _, err := os.Stat(t); err != nil {
				return c.usageErr("%s: %v: give a plugin's directory, MODULE@VERSION or a .so file", t, cause(err))
			}
		}
	}
	dir, cfg, err := o.pluginDir()
	if err != nil {
		return c.usageErr("%v", err)
	}
	if o.pidFile != "" {
		if _, err := readPID(o.pidFile); err != nil {
			return c.usageErr("%v", err)
		}
	}
	b, err := newBuilder(c, o.host, host)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	b.noDowngrade = o.noDowngrade
	h := &opa.Host{File: o.host, Build: host}
	// What is installed is explained while the plugins build (they are
	// written to hidden files, which discovery skips): after the build it
	// took 15 to 50 ms of opa add's time (BENCHMARKS.md, the opa add row).
	explained := make(chan installedSet, 1)
	go func() {
		var s installedSet
		s.plugins, s.report, s.err = explainInstalled(cfg, h)
		explained <- s
	}()
	var built []builtPlugin
	defer func() { removeTemps(built) }()
	for _, t := range targets {
		var out []builtPlugin
		switch {
		case isRemote(t):
			out, err = b.buildRemote(t, dir)
		case strings.HasSuffix(t, ".so"):
			var p builtPlugin
			p, err = placeBuilt(t, dir)
			out = []builtPlugin{p}
		default:
			out, err = b.build(t, []string{"."}, dir, false)
		}
		built = append(built, out...)
		if err != nil {
			c.errorf("%s: %v", t, err)
			return exitFailed
		}
	}
	for _, p := range built {
		syncAhead(p.temp) // while they are checked
	}
	var names []string
	for i, p := range built {
		if slices.Contains(names, p.name) {
			c.errorf("two targets are both plugin %s: add one of them", p.name)
			return exitFailed
		}
		names = append(names, p.name)
		if st, err := os.Stat(filepath.Join(dir, p.name)); err == nil && st.IsDir() {
			built[i].file = filepath.Join(dir, p.name, "plugin.so") // a directory plugin
		}
	}
	set := <-explained
	if set.err != nil {
		c.errorf("%v", set.err)
		return exitFailed
	}
	installed := slices.DeleteFunc(set.plugins, func(p installedPlugin) bool { return slices.Contains(names, p.name) })
	before := set.report
	if !b.check(built, installed) {
		return exitFailed
	}
	var undos []undo
	fail := func(err error) int {
		c.errorf("%v", err)
		if rerr := restore(undos); rerr != nil {
			c.errorf("could not put %s back as it was: %v", dir, rerr)
		}
		return exitFailed
	}
	for i := range built {
		p := &built[i]
		metas, err := metaFiles(*p)
		if err != nil {
			return fail(err)
		}
		// Each change is undoable from the moment its file is kept: an
		// install can fail after its rename (the directory's sync).
		for _, m := range metas {
			u, err := keep(m.to)
			if err != nil {
				return fail(err)
			}
			undos = append(undos, u)
			temp, err := copyTemp(m.from, filepath.Dir(m.to), filepath.Base(m.to), 0o644)
			if err != nil {
				return fail(err)
			}
			if err := installFile(temp, m.to); err != nil {
				os.Remove(temp)
				return fail(err)
			}
		}
		u, err := keep(p.file)
		if err != nil {
			return fail(err)
		}
		undos = append(undos, u)
		if err := installFile(p.temp, p.file); err != nil {
			return fail(err)
		}
		p.temp = ""
		fmt.Fprintf(c.stdout, "%s: installed\n", p.file)
	}
	u, locked, err := updateLock(dir, o.lock, lockHost(o.host, host))
	if err != nil {
		return fail(err)
	}
	if locked {
		undos = append(undos, u)
		fmt.Fprintf(c.stdout, "%s: updated\n", filepath.Join(dir, opa.LockFile))
	}
	if o.pidFile != "" {
		printFingerprints(c, cfg, h, before)
	}
	return finishDeploy(c, o, dir, undos)
}

// printFingerprints prints the fingerprints of the plugin set before a
// change (from before, the report of Explain then) and after it (Explain
// now), as the host will report them with these settings.
func printFingerprints(c *cli, cfg opa.Config, h *opa.Host, before opa.Report) {
	_, after, err := explainInstalled(cfg, h)
	if err != nil || before.Fingerprint == nil || after.Fingerprint == nil {
		return
	}
	for _, r := range []struct {
		when string
		fp   *opa.Fingerprint
	}{{"before", before.Fingerprint}, {"after ", after.Fingerprint}} {
		fmt.Fprintf(c.stdout, "fingerprint %s: plugins %s settings %s%s\n", r.when, opa.Short(r.fp.Plugins), opa.Short(r.fp.Settings), unhashedNote(r.fp))
	}
}

// finishDeploy reloads the host when --pidfile asks for it, and undoes the
// changes when it does not take them.
func finishDeploy(c *cli, o deployOptions, dir string, undos []undo) int {
	if o.pidFile == "" {
		forget(undos)
		return exitOK
	}
	pid, err := reload(o.pidFile, o.timeout)
	if err != nil {
		c.errorf("the host did not take the new plugin set: %v", err)
		if rerr := restore(undos); rerr != nil {
			c.errorf("could not put %s back as it was: %v", dir, rerr)
			return exitFailed
		}
		fmt.Fprintf(c.stdout, "%s: put back as it was, the set the running process loaded\n", dir)
		return exitFailed
	}
	forget(undos)
	fmt.Fprintf(c.stdout, "reloaded: pid %d serves the new set\n", pid)
	return exitOK
}

// placeBuilt copies a built .so into a hidden file in dir.
func placeBuilt(file, dir string) (builtPlugin, error) {
	name := strings.TrimSuffix(filepath.Base(file), ".so")
	if name == "plugin" {
		name = filepath.Base(filepath.Dir(file)) // a directory plugin: NAME/plugin.so
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return builtPlugin{}, err
	}
	temp, err := copyTemp(abs, dir, name+".so", 0o755)
	if err != nil {
		return builtPlugin{}, err
	}
	return builtPlugin{name: name, srcDir: filepath.Dir(abs), temp: temp, file: filepath.Join(dir, name+".so")}, nil
}

// metaCopy is a meta.json to install.
type metaCopy struct{ from, to string }

// metaFiles finds the meta.json of a plugin beside its source (NAME-meta.json,
// else meta.json) and says where it goes: beside a NAME.so as
// NAME-meta.json, in a directory plugin as meta.json.
func metaFiles(p builtPlugin) ([]metaCopy, error) {
	if p.srcDir == "" {
		return nil, nil
	}
	to := strings.TrimSuffix(p.file, ".so") + "-meta.json"
	if filepath.Base(p.file) == "plugin.so" {
		to = filepath.Join(filepath.Dir(p.file), "meta.json")
	}
	for _, name := range []string{p.name + "-meta.json", "meta.json"} {
		from := filepath.Join(p.srcDir, name)
		if _, err := os.Stat(from); err == nil {
			return []metaCopy{{from, to}}, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, nil
}
