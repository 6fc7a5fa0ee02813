package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/opa-stack/opa-go/internal/lock"
	"github.com/opa-stack/opa-go/internal/preflight"
)

var lockCommand = &command{
	name:    "lock",
	summary: "record the plugins of a plugin directory in DIR/opa.lock, which the host then enforces",
	usage:   "lock [--host BINARY] DIR",
	help: `Writes DIR/opa.lock: per plugin of DIR (NAME.so, or NAME/plugin.so) its
name, file, SHA-256, the module and version of its main package and the Go
version that built it (from the file's build information), and, with
--host, the host binary it is meant for (its Go build ID and main module).

A host that finds opa.lock in a plugin folder loads from it only the files
it names, each with the SHA-256 it records: a file dropped in by hand is
refused ("not in opa.lock"), a changed file is refused naming both sums,
and a file the lock names that is missing fails Startup. Once a folder
has a lock, opa add and opa remove keep it current; opa add --lock starts
one. opa build never writes one.

The file is indented JSON, sorted by name: the same folder gives the same
bytes, and a change is a small diff. It is written under a hidden name
and renamed into place.

Exit status: 0 written, 1 a plugin could not be read, 2 a usage error.`,
	examples: `  opa lock /data/opa/plugins
  opa lock --host /usr/local/bin/myhost ./build/plugins`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		host := fs.String("host", "", "record the host `BINARY` the plugins are meant for")
		return func(c *cli, args []string) int { return runLock(c, *host, args) }
	},
}

func runLock(c *cli, hostFile string, args []string) int {
	if len(args) != 1 {
		return c.usageErr("want one DIR, got %d arguments", len(args))
	}
	dir := args[0]
	if err := checkDir("DIR", dir); err != nil {
		return c.usageErr("%v", err)
	}
	var host *lock.Host
	if hostFile != "" {
		info, err := readHost(hostFile)
		if err != nil {
			return c.usageErr("%v", err)
		}
		host = lockHost(hostFile, info)
	}
	prev, err := readLock(dir)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	f, err := buildLock(dir, host, prev, false)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if err := writeLock(dir, f); err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	fmt.Fprintf(c.stdout, "%s: %d plugins locked\n", filepath.Join(dir, lock.FileName), len(f.Plugins))
	return exitOK
}

// lockHost describes a host binary for a lock.
func lockHost(file string, info *debug.BuildInfo) *lock.Host {
	h := &lock.Host{BuildID: preflight.GoBuildID(file)}
	if info != nil {
		h.Module, h.Version = info.Main.Path, info.Main.Version
	}
	return h
}

// readLock reads dir's opa.lock; nil when it has none.
func readLock(dir string) (*lock.File, error) {
	file := filepath.Join(dir, lock.FileName)
	data, err := preflight.ReadFile(file, "an opa.lock", lock.MaxSize) // without blocking on a named pipe
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock file %s: %w", file, err)
	}
	f, err := lock.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return f, nil
}

// folderPlugins lists the plugins of dir as the host discovers them:
// NAME.so and NAME/plugin.so, hidden names and names with a dot left out.
// Each is its name and its file relative to dir, with slashes.
func folderPlugins(dir string) ([][2]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if base, ok := strings.CutSuffix(name, ".so"); ok && !strings.Contains(base, ".") && !e.IsDir() {
			out = append(out, [2]string{base, name})
			continue
		}
		if strings.Contains(name, ".") {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, name, "plugin.so")); err == nil {
				out = append(out, [2]string{name, name + "/plugin.so"})
			}
		}
	}
	return out, nil
}

// buildLock records every plugin of dir, as meant for host. With keepOld
// (or a nil host), a file that did not change since prev keeps the host
// prev recorded for it.
func buildLock(dir string, host *lock.Host, prev *lock.File, keepOld bool) (*lock.File, error) {
	plugins, err := folderPlugins(dir)
	if err != nil {
		return nil, err
	}
	f := &lock.File{LockVersion: lock.Version}
	for _, p := range plugins {
		e, err := lockEntry(dir, p[0], p[1])
		if err != nil {
			return nil, err
		}
		e.Host = host
		if old, ok := prev.Find(p[0]); (host == nil || keepOld) && ok && old.SHA256 == e.SHA256 {
			e.Host = old.Host
		}
		f.Put(e)
	}
	return f, nil
}

// lockEntry reads one plugin file of dir for its lock entry.
func lockEntry(dir, name, rel string) (lock.Entry, error) {
	file := filepath.Join(dir, filepath.FromSlash(rel))
	in, _, err := preflight.OpenFile(file) // without blocking, a regular file only
	if err != nil {
		return lock.Entry{}, err
	}
	defer in.Close()
	h := sha256.New()
	if _, err := io.Copy(h, in); err != nil {
		return lock.Entry{}, fmt.Errorf("reading %s: %w", file, err)
	}
	e := lock.Entry{Name: name, File: rel, SHA256: hex.EncodeToString(h.Sum(nil))}
	info, err := preflight.ReadBuild(file)
	if err != nil {
		return lock.Entry{}, fmt.Errorf("%s: %w: is it a Go plugin? remove it from %s, or rebuild it with opa build", file, err, dir)
	}
	e.Go = info.GoVersion
	if mod := preflight.MainModule(info); mod != nil {
		e.Module, e.ModuleVersion = mod.Path, mod.Version
	}
	return e, nil
}

// writeLock writes f as dir's opa.lock: under a hidden name, synced, then
// renamed into place.
func writeLock(dir string, f *lock.File) error {
	file := filepath.Join(dir, lock.FileName)
	temp := filepath.Join(dir, "."+lock.FileName+".tmp")
	if err := os.WriteFile(temp, f.Marshal(), 0o644); err != nil {
		os.Remove(temp) // a part written before the disk filled up
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := installFile(temp, file); err != nil {
		os.Remove(temp)
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}

// updateLock rewrites dir's opa.lock after plugins were installed or
// removed, when dir has one or start is set, recording host for the files
// that changed. It returns the undo of the change, and whether it wrote.
func updateLock(dir string, start bool, host *lock.Host) (undo, bool, error) {
	prev, err := readLock(dir)
	if err != nil || (prev == nil && !start) {
		return undo{}, false, err
	}
	f, err := buildLock(dir, host, prev, true)
	if err != nil {
		return undo{}, false, err
	}
	u, err := keep(filepath.Join(dir, lock.FileName))
	if err != nil {
		return undo{}, false, err
	}
	if err := writeLock(dir, f); err != nil {
		return undo{}, false, err
	}
	return u, true, nil
}
