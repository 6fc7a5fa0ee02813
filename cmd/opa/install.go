package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/opa-stack/opa-go/internal/pidfile"
	"github.com/opa-stack/opa-go/internal/preflight"
)

// Installing never writes into a file a host may have open: each file is
// written under a hidden name in its directory (discovery skips hidden
// names), synced, and renamed into place; the directory is synced after.
// With a PID file, the host is then reloaded (SIGHUP) and the outcome it
// writes to PIDFILE.reload is awaited, as serve.Trigger does. When the
// reload fails, the plugin directory is put back as it was, so that it
// holds the set the running process loaded.

// installedPlugin is a plugin in a plugin directory.
type installedPlugin struct {
	name string
	file string // its .so
}

// installFile moves temp, a file in file's directory, to file atomically:
// temp is synced first, and the directory after.
func installFile(temp, file string) error {
	f, err := os.Open(temp)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("sync %s: %w", temp, err)
	}
	if err := os.Rename(temp, file); err != nil {
		return err
	}
	return syncDir(filepath.Dir(file))
}

// syncAhead starts writing files to disk in the background, so that the
// sync installFile makes before its rename finds little left to write:
// opa add starts it for the plugins it built before it checks them (a
// plugin is about 18 MB, tens of milliseconds of writing). Errors are
// left to installFile's own sync.
func syncAhead(files ...string) {
	for _, file := range files {
		go func() {
			if f, err := os.Open(file); err == nil {
				_ = f.Sync()
				f.Close()
			}
		}()
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// copyTemp copies src to a hidden file in dir named after name, for
// installFile, and returns its path. src must be a regular file (a named
// pipe or a device is refused, never read) and is copied to the size it
// had when opened.
func copyTemp(src, dir, name string, mode fs.FileMode) (string, error) {
	in, fi, err := preflight.OpenFile(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	temp := filepath.Join(dir, "."+name+".tmp")
	out, err := os.OpenFile(temp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return "", err
	}
	_, err = io.CopyN(out, in, fi.Size())
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("it shrank while it was copied (%d bytes when opened)", fi.Size())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(temp)
		return "", fmt.Errorf("copy %s to %s: %w", src, temp, err)
	}
	return temp, nil
}

// change of a plugin directory, undone when the host does not take the
// new set.
type undo struct {
	file   string // the file installed or removed
	backup string // a hard link to what it was, "" when it did not exist
}

// keep makes a hidden hard link to file, if it exists, so that installing
// or removing it can be undone.
func keep(file string) (undo, error) {
	u := undo{file: file}
	if _, err := os.Lstat(file); errors.Is(err, fs.ErrNotExist) {
		return u, nil
	}
	u.backup = filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".prev")
	os.Remove(u.backup)
	if err := os.Link(file, u.backup); err != nil {
		return u, fmt.Errorf("keep a copy of %s for undoing: %w", file, err)
	}
	return u, nil
}

// restore undoes the changes, last first, and returns what failed.
func restore(undos []undo) error {
	var errs []error
	for i := len(undos) - 1; i >= 0; i-- {
		u := undos[i]
		var err error
		if u.backup == "" {
			err = os.Remove(u.file)
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		} else if err = os.Rename(u.backup, u.file); err == nil {
			// A file not yet replaced is its backup's own inode, and a
			// rename onto the same file does nothing: drop the link.
			if rerr := os.Remove(u.backup); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = rerr
			}
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// forget drops the backups of changes the host took.
func forget(undos []undo) {
	for _, u := range undos {
		if u.backup != "" {
			os.Remove(u.backup)
		}
	}
}

// reload sends SIGHUP to the process pidFile names and waits, up to
// timeout, for the outcome it writes to pidFile+".reload". It returns the
// PID that serves now, or an error saying why the old one serves on.
func reload(pidFile string, timeout time.Duration) (int, error) {
	r, err := pidfile.Ask(pidFile)
	if errors.Is(err, syscall.ESRCH) {
		return 0, fmt.Errorf("--pidfile: %w (is the host running?)", err)
	}
	if err != nil {
		return 0, fmt.Errorf("--pidfile: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		o, done, err := r.Done()
		switch {
		case errors.Is(err, pidfile.ErrExited):
			return 0, fmt.Errorf("process %d exited without writing the outcome of its reload to %s (is it a host built with package serve?)", r.PID, pidfile.OutcomeFile(pidFile))
		case err != nil:
			return 0, fmt.Errorf("cannot read the outcome of the reload of process %d: %w", r.PID, err)
		case done && !o.OK:
			return 0, fmt.Errorf("process %d serves on: %s", r.PID, strings.TrimPrefix(o.Error, "serve: "))
		case done:
			return readPID(pidFile)
		case time.Now().After(deadline):
			return 0, fmt.Errorf("no outcome of the reload of process %d in %s after %s (is it a host built with package serve? --timeout waits longer)", r.PID, pidfile.OutcomeFile(pidFile), timeout)
		}
		// A reload takes a few hundred milliseconds; its outcome is a
		// small file. Reading it every 2 ms costs little and adds 1 ms on
		// average to opa add (20 ms added 10 ms; see BENCHMARKS.md).
		time.Sleep(reloadPoll)
	}
}

// reloadPoll is how often reload reads the outcome file.
const reloadPoll = 2 * time.Millisecond

// readPID returns the PID a PID file holds; a named pipe or a file that
// holds more than a PID is refused unread, as is an outcome file beside
// it (PIDFILE.reload) that cannot be read.
func readPID(pidFile string) (int, error) {
	pid, err := pidfile.Check(pidFile)
	if err != nil {
		return 0, fmt.Errorf("--pidfile: %w", err)
	}
	return pid, nil
}
