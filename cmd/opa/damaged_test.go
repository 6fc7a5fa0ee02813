package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// damageHashAndNfunctab flips the hash of package pkg in a copy of a real
// plugin, so that it conflicts with the host and the check explains the
// conflict from the line table, and sets the line table's function count
// to 0xffffffff, which debug/gosym takes as an allocation size.
func damageHashAndNfunctab(t *testing.T, plug []byte, pkg string) []byte {
	t.Helper()
	b := bytes.Clone(plug)
	f, err := elf.NewFile(bytes.NewReader(b))
	require.NoError(t, err)
	syms, err := f.DynamicSymbols()
	require.NoError(t, err)
	flipped := false
	for _, s := range syms {
		if s.Name == "go:link.pkghashbytes."+pkg {
			sect := f.Sections[s.Section]
			b[sect.Offset+s.Value-sect.Addr] ^= 0xff
			flipped = true
		}
	}
	require.True(t, flipped, "the plugin exports the hash of %s", pkg)
	pcln := f.Section(".gopclntab")
	require.NotNil(t, pcln)
	binary.LittleEndian.PutUint64(b[pcln.Offset+8:], 0xffffffff)
	return b
}

// TestCheckDamagedPlugin: a plugin whose package hash conflicts and whose
// line table claims 4G functions is refused by opa check, which exits
// normally (it died "out of memory" explaining the conflict).
func TestCheckDamagedPlugin(t *testing.T) {
	f := fixtures(t)
	plug, err := os.ReadFile(f.hello)
	require.NoError(t, err)
	damaged := filepath.Join(t.TempDir(), "damaged.so")
	require.NoError(t, os.WriteFile(damaged, damageHashAndNfunctab(t, plug, "runtime"), 0o644))
	res := runOpa(t, repoRoot(t), nil, "check", "--host", f.host, damaged)
	assert.Equal(t, 1, res.code, "refused, not aborted: %s", res.stderr)
	assert.NotContains(t, res.stderr, "fatal error")
	assert.Equal(t, damaged+": REFUSED\n"+
		"    package runtime differs from the host's copy, so plugin.Open would refuse it:\n"+
		"    runtime's source differs from the host's copy, with the same module version, directory and flags (an edited file?): build the plugin against the host's exact source (opa build --host BINARY does)\n",
		res.stdout)
}

// TestCheckOtherFiles: a FIFO named as a plugin or as the host is refused
// with its type, and opa does not block on it.
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
}
