// Command dev is `make dev`: save a plugin's source and see it served. It
// starts the example host and worker (run.sh), watches the plugin sources,
// and when a plugin's files change it rebuilds that plugin with the host's
// exact settings (opa build --host, which checks the plugin before it
// writes it) and reloads the host and the worker (SIGHUP through their PID
// files, package serve). It prints one line per reload:
//
//	dev: hello (main.go): built in 6.95s, reloaded in 140ms (saved to served 7.19s): ok, host pid 21060, no worker running
//
// A compile error or a refused plugin prints the error and leaves the host
// serving the code it had. Run from the examples directory:
//
//	dev -build build
package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/serve"
)

func main() {
	build := flag.String("build", cmp.Or(os.Getenv("BUILD_DIR"), "build"), "directory of host, worker, opa and the PID files (env BUILD_DIR)")
	src := flag.String("src", "plugins", "plugin sources to watch: one directory per plugin, inside this module")
	out := flag.String("plugins", os.Getenv("OPA_PLUGIN_PATHS"), "where the plugins are built to (env OPA_PLUGIN_PATHS; default BUILD/plugins)")
	flag.Parse()
	if *out == "" {
		*out = filepath.Join(*build, "plugins")
	}
	if err := run(*build, *src, *out); err != nil {
		fmt.Fprintln(os.Stderr, err) // run's errors start with "dev: "
		os.Exit(1)
	}
}

func run(build, src, out string) error {
	build, err := filepath.Abs(build)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("dev: watch: %w", err)
	}
	defer w.Close()
	dirs, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	for _, d := range dirs {
		if d.IsDir() {
			if err := w.Add(filepath.Join(src, d.Name())); err != nil {
				return fmt.Errorf("dev: watch %s: %w", d.Name(), err)
			}
		}
	}

	// run.sh, as make run starts it, on the same build and plugins.
	script := exec.Command("sh", "run.sh")
	script.Env = append(os.Environ(), "BUILD_DIR="+build, "OPA_PLUGIN_PATHS="+out)
	script.Stdout, script.Stderr = os.Stdout, os.Stderr
	if err := script.Start(); err != nil {
		return fmt.Errorf("dev: run.sh: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- script.Wait() }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	fmt.Printf("dev: watching %s/ (Ctrl-C stops)\n", src)

	changed := map[string]map[string]bool{} // plugin -> files
	var first time.Time                     // the first save of a batch
	var settle <-chan time.Time
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("dev: run.sh stopped: %v", err)
		case s := <-sigs:
			_ = script.Process.Signal(s)
			<-exited
			return nil
		case err := <-w.Errors:
			fmt.Fprintln(os.Stderr, "dev: watch:", err)
		case ev := <-w.Events:
			name := filepath.Base(ev.Name)
			if !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) ||
				strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
				!(strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".json")) {
				continue
			}
			plugin := filepath.Base(filepath.Dir(ev.Name))
			if changed[plugin] == nil {
				changed[plugin] = map[string]bool{}
			}
			changed[plugin][name] = true
			if first.IsZero() {
				first = time.Now()
			}
			// Editors write a file in several steps: settle for a moment.
			settle = time.After(100 * time.Millisecond)
		case <-settle:
			settle = nil
			for _, p := range slices.Sorted(maps.Keys(changed)) {
				fmt.Println(reload(build, src, out, p, slices.Sorted(maps.Keys(changed[p])), first))
			}
			changed, first = map[string]map[string]bool{}, time.Time{}
		}
	}
}

// reload rebuilds one plugin and reloads the host and the worker, and
// returns the line that says how it went.
func reload(build, src, out, plugin string, files []string, saved time.Time) string {
	what := fmt.Sprintf("dev: %s (%s)", plugin, strings.Join(files, ", "))
	start := time.Now()
	if err := buildPlugin(build, src, out, plugin); err != nil {
		return fmt.Sprintf("%s: build FAILED in %s, the host serves the previous code:\n%v", what, since(start), err)
	}
	built := time.Since(start)
	rstart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pid, err := serve.Trigger(ctx, filepath.Join(build, "host.pid"))
	if err != nil {
		return fmt.Sprintf("%s: built in %s, reload FAILED in %s, the host serves the previous code: %v", what, round(built), since(rstart), err)
	}
	reloaded := time.Since(rstart)
	result := fmt.Sprintf("ok, host pid %d", pid)
	if wpid, err := serve.ReadPID(filepath.Join(build, "worker.pid")); err != nil || syscall.Kill(wpid, 0) != nil {
		result += ", no worker running"
	} else {
		if wpid, err := serve.Trigger(ctx, filepath.Join(build, "worker.pid")); err != nil {
			result += fmt.Sprintf("; worker reload FAILED, it runs the previous code: %v", err)
		} else {
			result += fmt.Sprintf(", worker pid %d", wpid)
		}
	}
	return fmt.Sprintf("%s: built in %s, reloaded in %s (saved to served %s): %s", what, round(built), round(reloaded), since(saved), result)
}

// buildPlugin runs opa build for the host, as a plugin author would: a
// single-file plugin to OUT/NAME.so, a directory plugin (with meta.json) to
// OUT/NAME/plugin.so, through a hidden directory and a rename, so that the
// host never sees a partial or refused file.
func buildPlugin(build, src, out, plugin string) error {
	dest := out
	dir := filepath.Join(src, plugin)
	_, statErr := os.Stat(filepath.Join(dir, "meta.json"))
	isDir := statErr == nil
	if isDir {
		dest = filepath.Join(out, ".dev")
	} else if meta, err := preflight.ReadNamed(filepath.Join(dir, plugin+"-meta.json"), "a meta.json", maxMeta); err == nil {
		if err := install(meta, out, plugin+"-meta.json"); err != nil {
			return err
		}
	}
	var output bytes.Buffer
	cmd := exec.Command(filepath.Join(build, "opa"), "build", "--host", filepath.Join(build, "host"), "-o", dest, "./"+filepath.ToSlash(dir))
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s%w", output.String(), err)
	}
	if !isDir {
		return nil
	}
	meta, err := preflight.ReadNamed(filepath.Join(dir, "meta.json"), "a meta.json", maxMeta)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, plugin), 0o755); err != nil {
		return err
	}
	if err := install(meta, filepath.Join(out, plugin), "meta.json"); err != nil {
		return err
	}
	return os.Rename(filepath.Join(dest, plugin+".so"), filepath.Join(out, plugin, "plugin.so"))
}

// maxMeta is the most bytes of a meta.json dev copies, as the host reads
// (a named pipe in its place is refused, not waited on).
const maxMeta = 1 << 20

// install writes b to dir/name through a hidden file and a rename.
func install(b []byte, dir, name string) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	err := os.WriteFile(tmp, b, 0o644)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

func since(t time.Time) time.Duration { return round(time.Since(t)) }
