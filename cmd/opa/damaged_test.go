package main

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// TestCheckDamagedPlugin: a plugin whose package hash conflicts and whose
// line table claims 4G functions is refused by opa check, which exits
// normally (it died "out of memory" explaining the conflict).
func TestCheckDamagedPlugin(t *testing.T) {
	f := fixtures(t)
	plug, err := os.ReadFile(f.hello)
	require.NoError(t, err)
	damaged := filepath.Join(t.TempDir(), "damaged.so")
	require.NoError(t, os.WriteFile(damaged, testenv.DamageHashAndNfunctab(t, plug, "runtime"), 0o644))
	res := runOpa(t, repoRoot(t), nil, "check", "--host", f.host, damaged)
	assert.Equal(t, 1, res.code, "refused, not aborted: %s", res.stderr)
	assert.NotContains(t, res.stderr, "fatal error")
	assert.Equal(t, damaged+": REFUSED\n"+
		"    package runtime differs from the host's copy, so plugin.Open would refuse it:\n"+
		"    runtime's source differs from the host's copy, with the same module version, directory and flags (an edited file?): build the plugin against the host's exact source (opa build --host BINARY does)\n",
		res.stdout)
}

// TestCheckOtherFiles: a FIFO named as a plugin or as the host, or in the
// place of a folder's opa.lock, is refused with its type, and opa does not
// block on it (opa lock waited for a writer for ever).
func TestCheckOtherFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs here")
	}
	f := fixtures(t)
	fifo := filepath.Join(t.TempDir(), "fifo.so")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))

	res := runOpa(t, repoRoot(t), nil, "check", "--host", f.host, fifo)
	assert.Equal(t, 1, res.code, res.stderr)
	assert.Equal(t, fifo+": REFUSED\n    is a named pipe (FIFO), not a regular file: a plugin must be a .so file built with go build -buildmode=plugin\n", res.stdout)

	res = runOpa(t, repoRoot(t), nil, "check", "--host", fifo, f.hello)
	assert.Equal(t, 2, res.code, res.stderr)
	assert.Contains(t, res.stderr, "opa check: --host "+fifo+": is a named pipe (FIFO), not a regular file")

	dir := t.TempDir()
	lockFile := filepath.Join(dir, "opa.lock")
	require.NoError(t, syscall.Mkfifo(lockFile, 0o644))
	res = runOpa(t, repoRoot(t), nil, "lock", dir)
	assert.NotZero(t, res.code, res.stderr)
	assert.Contains(t, res.stderr, "lock file "+lockFile+": "+lockFile+" is a named pipe (FIFO), not a regular file: an opa.lock must be a regular file")
}
