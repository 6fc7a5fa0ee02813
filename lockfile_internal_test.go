package opa

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/lock"
	"github.com/opa-stack/opa-go/internal/trust"
)

// TestReadLocksReadsTheFileChecked: readLocks reads the opa.lock that the
// permission rule opened and judged, not whatever the path names by then
// (it checked the path, then opened it again); where the rule opens
// nothing, it reads the path; a broken rule is a trust error naming the
// lock; and a lock over lock.MaxSize is refused, saying its size.
func TestReadLocksReadsTheFileChecked(t *testing.T) {
	lockOf := func(name string) []byte {
		l := &lock.File{LockVersion: lock.Version}
		l.Put(lock.Entry{Name: name, File: name + ".so", SHA256: strings.Repeat("ab", 32)})
		return l.Marshal()
	}
	dir := t.TempDir()
	file := filepath.Join(dir, LockFile)
	require.NoError(t, os.WriteFile(file, lockOf("swapped"), 0o644))
	checked := filepath.Join(t.TempDir(), "checked.lock")
	require.NoError(t, os.WriteFile(checked, lockOf("checked"), 0o644))

	openChecked := func(string) (*os.File, fs.FileInfo, error) { // the rule's open, before a swap
		f, err := os.Open(checked)
		if err != nil {
			return nil, nil, err
		}
		fi, err := f.Stat()
		return f, fi, err
	}
	locks, err := readLocks([]string{dir}, openChecked)
	require.NoError(t, err)
	_, ok := locks[dir].lock.Find("checked")
	assert.True(t, ok, "the lock read is the one checked")
	_, ok = locks[dir].lock.Find("swapped")
	assert.False(t, ok)

	byPath := func(string) (*os.File, fs.FileInfo, error) { return nil, nil, nil }
	locks, err = readLocks([]string{dir}, byPath)
	require.NoError(t, err)
	_, ok = locks[dir].lock.Find("swapped")
	assert.True(t, ok, "a nil file: the path is read")

	broken := func(path string) (*os.File, fs.FileInfo, error) {
		return nil, nil, &trust.Error{Path: path, Checked: path}
	}
	_, err = readLocks([]string{dir}, broken)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "opa: lock file "+file+": trust: "), err.Error())

	require.NoError(t, os.Truncate(file, lock.MaxSize+1))
	_, err = readLocks([]string{dir}, nil)
	assert.EqualError(t, err, "opa: lock file "+file+": it is 16777217 bytes, more than the 16777216 an opa.lock may have: is it the right file?")

	none := t.TempDir()
	locks, err = readLocks([]string{none}, func(string) (*os.File, fs.FileInfo, error) {
		return nil, nil, errors.New("a folder without opa.lock is not checked")
	})
	require.NoError(t, err)
	assert.Empty(t, locks)
}

// PLUGIN_IGNORE_LOCK does not read the locks at all: a damaged opa.lock,
// the case the setting is for, no longer fails Startup with it set.
func TestIgnoreLockReadsNoLock(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, LockFile), []byte("{not json"), 0o644))
	start := func(ignore bool) (*Manager, error) {
		m, err := New(WithConfig(Config{PluginPaths: []string{dir}, DefaultPluginPath: t.TempDir(), IgnoreLock: ignore}))
		require.NoError(t, err)
		return m, m.StartupSimple(t.Context())
	}
	_, err := start(false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), LockFile)

	m, err := start(true)
	require.NoError(t, err)
	assert.Contains(t, m.Report().Warnings, lockIgnoredWarning)
	require.NoError(t, m.Shutdown(t.Context()))
}
