package opa

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/opa-stack/opa-go/internal/lock"
	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/trust"
)

// LockFile is the name of the lock file of a plugin folder. A folder that
// holds one (written by opa lock, opa add or opa remove) loads only the .so
// files it names, each with the SHA-256 it records, computed as the file is
// staged (no second read): a file it does not name is refused ("not in
// opa.lock"), a file whose SHA-256 differs is refused naming both sums, and
// an entry whose file is not there fails Startup, or is a warning with
// PLUGIN_ON_ERROR=skip. A PLUGIN_SHA256 pin of the same name overrides the
// lock's sum, with a warning. Config.IgnoreLock turns it all off. The lock
// is checked by the permission rule of meta.json files, on the file it reads.
const LockFile = lock.FileName

// lockIgnoredWarning is the warning of a Startup with locks off.
const lockIgnoredWarning = "PLUGIN_IGNORE_LOCK is true: the opa.lock files of the plugin folders are not enforced, so any .so file in them loads"

// folderLock is the opa.lock of one plugin folder.
type folderLock struct {
	file string // the lock file
	lock *lock.File
}

// readLocks reads the opa.lock of every search path that has one, as
// readMeta reads a meta.json: without blocking, up to lock.MaxSize bytes,
// and judged by the permission rule (checkOpen) on the file it reads. A
// lock that cannot be read or parsed, or that breaks the rule, is an error
// naming it.
func readLocks(paths []string, checkOpen func(string) (*os.File, fs.FileInfo, error)) (map[string]*folderLock, error) {
	out := map[string]*folderLock{}
	for _, dir := range paths {
		file := filepath.Join(dir, LockFile)
		if _, err := os.Lstat(file); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		data, err := readChecked(file, "an opa.lock", lock.MaxSize, checkOpen)
		if _, ok := errors.AsType[*trust.Error](err); ok {
			return nil, fmt.Errorf("opa: lock file %s: %w", file, trustStep(err))
		}
		if err != nil {
			return nil, fmt.Errorf("opa: lock file %s: %w", file, err)
		}
		l, err := lock.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("opa: lock file %s: %w", file, err)
		}
		out[dir] = &folderLock{file: file, lock: l}
	}
	return out, nil
}

// lockOf returns the lock that governs candidate c, or nil.
func (m *Manager) lockOf(c *candidate, locks map[string]*folderLock) *folderLock {
	if c.builtin != nil || m.cfg.IgnoreLock {
		return nil
	}
	return locks[c.dir]
}

// checkLock compares a staged .so file's SHA-256 with the lock of its
// folder. A plugin pinned with PLUGIN_SHA256 is checked by its pin instead
// (see lockOverrides).
func (m *Manager) checkLock(c *candidate, fl *folderLock, sum []byte) error {
	if fl == nil {
		return nil
	}
	if _, pinned := preflight.Pin(m.cfg.PluginSHA256, c.name); pinned {
		return nil
	}
	e, ok := fl.lock.Find(c.name)
	if !ok {
		return fmt.Errorf("%s: not in opa.lock (%s): a file put there by hand? add it with opa add, or record the folder as it is with opa lock %s", c.file, fl.file, c.dir)
	}
	if rel, err := filepath.Rel(c.dir, c.file); err == nil && filepath.ToSlash(rel) != e.File {
		return fmt.Errorf("%s: opa.lock (%s) records plugin %s as %s: update the lock with opa lock %s", c.file, fl.file, c.name, e.File, c.dir)
	}
	want, _ := hex.DecodeString(e.SHA256) // checked by lock.Parse
	if sum == nil {
		return fmt.Errorf("%s: the file's SHA-256 was not computed, and opa.lock (%s) records it", c.file, fl.file)
	}
	if subtle.ConstantTimeCompare(sum, want) != 1 {
		return fmt.Errorf("%s: SHA-256 mismatch: the file is %x, opa.lock (%s) records %s: this is not the file that was locked; deploy the right one (opa add), or record this one with opa lock %s", c.file, sum, fl.file, e.SHA256, c.dir)
	}
	return nil
}

// lockOverrides warns of each PLUGIN_SHA256 pin that overrides the sum a
// lock records for a plugin found in its folder.
func (m *Manager) lockOverrides(cands []*candidate, locks map[string]*folderLock, rep *Report) {
	for _, c := range cands {
		fl := m.lockOf(c, locks)
		if fl == nil || c.shadowed != "" {
			continue
		}
		pin, pinned := preflight.Pin(m.cfg.PluginSHA256, c.name)
		if e, ok := fl.lock.Find(c.name); pinned && ok {
			m.warn(rep, fmt.Sprintf("PLUGIN_SHA256 pins %q to %s, overriding the SHA-256 %s that %s records for it", c.name, pin, e.SHA256, fl.file))
		} else if pinned {
			m.warn(rep, fmt.Sprintf("PLUGIN_SHA256 pins %q, which %s does not name: the pin is checked instead of the lock", c.name, fl.file))
		}
	}
}

// missingLocked finds the entries of each lock whose plugin is not in its
// folder: each is an error naming the lock and the plugin (a warning under
// PLUGIN_ON_ERROR=skip).
func (m *Manager) missingLocked(cands []*candidate, locks map[string]*folderLock, rep *Report) []error {
	if m.cfg.IgnoreLock {
		return nil
	}
	var errs []error
	for _, dir := range slices.Sorted(maps.Keys(locks)) {
		fl := locks[dir]
		for _, e := range fl.lock.Plugins {
			found := slices.ContainsFunc(cands, func(c *candidate) bool { return c.dir == dir && c.name == e.Name && c.builtin == nil })
			if found {
				continue
			}
			err := fmt.Errorf("opa: %s names plugin %s (%s), which is not in %s: deploy it, or record the folder as it is with opa lock %s", fl.file, e.Name, e.File, dir, dir)
			if m.skipping() {
				m.warn(rep, err.Error()+" (PLUGIN_ON_ERROR=skip: Startup goes on)")
				continue
			}
			errs = append(errs, err)
		}
	}
	return errs
}
