//go:build unix

package trust

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
}

func TestTrustPaths(t *testing.T) {
	assert.Equal(t, []string{"/p/x.so", "/p"}, Paths("/p/x.so", "/p"))
	assert.Equal(t, []string{"/p/x/plugin.so", "/p/x", "/p"}, Paths("/p/x/plugin.so", "/p/"))
	assert.Equal(t, []string{"p/x.so", "p"}, Paths("p/x.so", "./p"))
}

func TestPermissions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, file string)
		want  string // "" passes
	}{
		{"owner-writable only", func(t *testing.T, f string) {}, ""},
		{"world-writable file", func(t *testing.T, f string) { require.NoError(t, os.Chmod(f, 0o666)) },
			"is writable by every user (mode 0666, bit o+w): run chmod o-w "},
		{"world-writable directory", func(t *testing.T, f string) { require.NoError(t, os.Chmod(filepath.Dir(f), 0o777)) },
			"is writable by every user (mode 0777, bit o+w)"},
		{"group-writable, the owner's own group", func(t *testing.T, f string) {
			gid, err := primaryGroup(uint32(os.Getuid()))
			require.NoError(t, err)
			require.NoError(t, os.Chown(f, os.Getuid(), int(gid)))
			require.NoError(t, os.Chmod(f, 0o664))
		}, ""},
		{"group-writable, another group", func(t *testing.T, f string) {
			requireRoot(t)
			require.NoError(t, os.Chown(f, os.Getuid(), 54321))
			require.NoError(t, os.Chmod(f, 0o664))
		}, "is writable by group 54321, which is not its owner's own group (mode 0664, bit g+w)"},
		{"owned by another non-root user", func(t *testing.T, f string) {
			requireRoot(t)
			require.NoError(t, os.Chown(f, 54321, 54321))
		}, "is owned by another user (uid 54321"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			file := filepath.Join(dir, "x.so")
			writeFile(t, file, "x")
			require.NoError(t, os.Chmod(dir, 0o755))
			require.NoError(t, os.Chmod(file, 0o644))
			tc.setup(t, file)
			var err error
			for _, p := range Paths(file, dir) {
				if err = Check(p); err != nil {
					break
				}
			}
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func requireRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to chown")
	}
}
