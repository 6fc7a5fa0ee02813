package opa_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// TestReadHostRefusesWhatIsNotABinary: a FIFO named as the host is refused
// at once (reading it would wait for a writer), a file that is no Go
// binary says so, and this test binary reads as a host.
func TestReadHostRefusesWhatIsNotABinary(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "host")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, err := opa.ReadHost(fifo)
	assert.ErrorContains(t, err, "opa: host "+fifo+" is a named pipe (FIFO), not a regular file")

	text := filepath.Join(dir, "text")
	require.NoError(t, os.WriteFile(text, []byte("not a binary"), 0o644))
	_, err = opa.ReadHost(text)
	assert.ErrorContains(t, err, "is it a Go binary built with module support?")

	exe, err := os.Executable()
	require.NoError(t, err)
	h, err := opa.ReadHost(exe)
	require.NoError(t, err)
	assert.Equal(t, exe, h.File)
	assert.NotNil(t, h.Build)
}
