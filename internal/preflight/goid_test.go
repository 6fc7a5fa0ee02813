package preflight

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
}
