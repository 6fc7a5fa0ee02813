package preflight

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// TestGoBuildID compares GoBuildID of the test binary with go tool buildid.
func TestGoBuildID(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Skipf("go tool buildid: %v", err)
	}
	assert.Equal(t, strings.TrimSpace(string(out)), GoBuildID(exe))
	assert.Empty(t, GoBuildID("goid.go"), "not an ELF file")
	assert.Equal(t, strings.TrimSpace(string(out)), GoBuildID("/proc/self/exe"), "through a symbolic link")

	// A named pipe gives "" at once: the host binary's build ID is read
	// for every report with a Host, and a host path is a user's.
	fifo := filepath.Join(t.TempDir(), "host")
	require.NoError(t, syscall.Mkfifo(fifo, 0o755))
	assert.Empty(t, testenv.Returns(t, "GoBuildID of a named pipe", func() string { return GoBuildID(fifo) }))

	// A damaged ELF file (the section headers cut off) gives "".
	b, err := os.ReadFile(exe)
	require.NoError(t, err)
	cut := filepath.Join(t.TempDir(), "cut")
	require.NoError(t, os.WriteFile(cut, b[:len(b)/2], 0o755))
	assert.Empty(t, GoBuildID(cut))
}
