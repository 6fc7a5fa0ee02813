//go:build unix

package trust

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// otherUID is a uid no test machine hands out: the "other user" of the
// tests that need one (they run as root, to chown to it).
const otherUID = 54321

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
}

func requireRoot(t *testing.T) {
	t.Helper()
	testenv.Root(t, "to chown a file to another user or group")
}

// TestTempDirIsTrusted makes sure the tests below start from a trusted
// place: t.TempDir() is under a sticky directory (/tmp) or a private one.
func TestTempDirIsTrusted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p", "x.so")
	writeFile(t, file, "x")
	require.NoError(t, Check(file), "the test's temporary directory must pass for these tests to mean anything")
}

// checkCase is a layout and the verdict of Check on a path in it.
type checkCase struct {
	name string
	// setup makes the layout under root and returns the path to check;
	// root/p/x.so exists (0644, in root/p 0755).
	setup func(t *testing.T, root string) string
	want  string // "" passes; ROOT/ stands for root
}

// checkCases are the layouts of TestCheck, which TestCheckOpen reuses.
func checkCases() []checkCase {
	return []checkCase{
		{"owner-writable only", func(t *testing.T, root string) string { return root + "/p/x.so" }, ""},
		{"world-writable file", func(t *testing.T, root string) string {
			require.NoError(t, os.Chmod(root+"/p/x.so", 0o666))
			return root + "/p/x.so"
		}, "ROOT/p/x.so is writable by every user (mode 0666, bit o+w), so anyone can change it: run chmod o-w ROOT/p/x.so"},
		{"world-writable file with the sticky bit", func(t *testing.T, root string) string {
			chmod(t, root+"/p/x.so", 0o1666)
			return root + "/p/x.so"
		}, "ROOT/p/x.so is writable by every user (mode 1666, bit o+w), so anyone can change it: run chmod o-w ROOT/p/x.so"},
		{"world-writable directory", func(t *testing.T, root string) string {
			chmod(t, root+"/p", 0o777)
			return root + "/p/x.so"
		}, "ROOT/p is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/p/x.so: run chmod o-w ROOT/p"},
		{"world-writable ancestor", func(t *testing.T, root string) string {
			writeFile(t, root+"/shared/plugins/x.so", "x")
			chmod(t, root+"/shared", 0o777)
			return root + "/shared/plugins/x.so"
		}, "ROOT/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/shared/plugins/x.so: run chmod o-w ROOT/shared"},
		{"sticky world-writable ancestor", func(t *testing.T, root string) string {
			writeFile(t, root+"/shared/plugins/x.so", "x")
			chmod(t, root+"/shared", 0o1777)
			return root + "/shared/plugins/x.so"
		}, ""},
		{"sticky world-writable directory holding the file", func(t *testing.T, root string) string {
			chmod(t, root+"/p", 0o1777)
			return root + "/p/x.so"
		}, ""},
		{"world-writable directory checked itself", func(t *testing.T, root string) string {
			chmod(t, root+"/p", 0o777)
			return root + "/p"
		}, "ROOT/p is writable by every user (mode 0777, no sticky bit), so anyone can change it: run chmod o-w ROOT/p"},
		{"symlink to a file in a world-writable directory", func(t *testing.T, root string) string {
			writeFile(t, root+"/shared/x.so", "x")
			chmod(t, root+"/shared", 0o777)
			symlink(t, root+"/shared/x.so", root+"/p/link.so")
			return root + "/p/link.so"
		}, "ROOT/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/shared/x.so, the target of the symlink ROOT/p/link.so: run chmod o-w ROOT/shared"},
		{"symlink to a file in a 0755 directory", func(t *testing.T, root string) string {
			writeFile(t, root+"/shared/x.so", "x")
			symlink(t, root+"/shared/x.so", root+"/p/link.so")
			return root + "/p/link.so"
		}, ""},
		{"relative symlink to a world-writable file", func(t *testing.T, root string) string {
			writeFile(t, root+"/shared/x.so", "x")
			require.NoError(t, os.Chmod(root+"/shared/x.so", 0o666))
			symlink(t, "../shared/x.so", root+"/p/link.so")
			return root + "/p/link.so"
		}, "ROOT/shared/x.so is writable by every user (mode 0666, bit o+w), so anyone can change it, the target of the symlink ROOT/p/link.so: run chmod o-w ROOT/shared/x.so"},
		{"symlink in a world-writable directory", func(t *testing.T, root string) string {
			writeFile(t, root+"/shared/x.so", "x")
			symlink(t, root+"/p/x.so", root+"/shared/link.so")
			chmod(t, root+"/shared", 0o777)
			return root + "/shared/link.so"
		}, "ROOT/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace the symlink ROOT/shared/link.so (to ROOT/p/x.so): run chmod o-w ROOT/shared"},
		{"symlinked directory on the way", func(t *testing.T, root string) string {
			writeFile(t, root+"/shared/plugins/x.so", "x")
			chmod(t, root+"/shared", 0o777)
			symlink(t, root+"/shared/plugins", root+"/p/plugins")
			return root + "/p/plugins/x.so"
		}, "ROOT/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/shared/plugins/x.so, the target of the symlink ROOT/p/plugins/x.so: run chmod o-w ROOT/shared"},
		{"group-writable, the owner's own group", func(t *testing.T, root string) string {
			gid, err := primaryGroup(uint32(os.Geteuid()))
			require.NoError(t, err)
			require.NoError(t, os.Chown(root+"/p", os.Geteuid(), int(gid)))
			chmod(t, root+"/p", 0o775)
			return root + "/p/x.so"
		}, ""},
		{"group-writable directory of another group", func(t *testing.T, root string) string {
			requireRoot(t)
			require.NoError(t, os.Chown(root+"/p", os.Geteuid(), otherUID))
			chmod(t, root+"/p", 0o775)
			return root + "/p/x.so"
		}, "ROOT/p is writable by group 54321, which is not its owner's own group (mode 0775, no sticky bit), so anyone in group 54321 can replace ROOT/p/x.so: run chmod g-w ROOT/p"},
		{"group-writable file of another group", func(t *testing.T, root string) string {
			requireRoot(t)
			require.NoError(t, os.Chown(root+"/p/x.so", os.Geteuid(), otherUID))
			require.NoError(t, os.Chmod(root+"/p/x.so", 0o664))
			return root + "/p/x.so"
		}, "ROOT/p/x.so is writable by group 54321, which is not its owner's own group (mode 0664, bit g+w), so anyone in group 54321 can change it: run chmod g-w ROOT/p/x.so"},
		{"file owned by another user", func(t *testing.T, root string) string {
			requireRoot(t)
			require.NoError(t, os.Chown(root+"/p/x.so", otherUID, otherUID))
			return root + "/p/x.so"
		}, "ROOT/p/x.so is owned by uid 54321, neither root nor the user this host runs as, uid 0 (root), so uid 54321 can change it: run chown root ROOT/p/x.so"},
		{"ancestor owned by another user", func(t *testing.T, root string) string {
			requireRoot(t)
			require.NoError(t, os.Chown(root+"/p", otherUID, otherUID))
			return root + "/p/x.so"
		}, "ROOT/p is owned by uid 54321, neither root nor the user this host runs as, uid 0 (root), so uid 54321 can replace ROOT/p/x.so: run chown root ROOT/p"},
		{"sticky directory, entry owned by another user", func(t *testing.T, root string) string {
			requireRoot(t)
			chmod(t, root+"/p", 0o1777)
			writeFile(t, root+"/p/theirs/x.so", "x")
			require.NoError(t, os.Chown(root+"/p/theirs", otherUID, otherUID))
			return root + "/p/theirs/x.so"
		}, "ROOT/p/theirs is owned by uid 54321"},
		{"symlink owned by another user in a sticky directory", func(t *testing.T, root string) string {
			requireRoot(t)
			chmod(t, root+"/p", 0o1777)
			symlink(t, root+"/p/x.so", root+"/p/link.so")
			require.NoError(t, os.Lchown(root+"/p/link.so", otherUID, otherUID))
			return root + "/p/link.so"
		}, "ROOT/p/link.so is owned by uid 54321"},
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range checkCases() {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root+"/p/x.so", "x")
			path := tc.setup(t, root)
			err := Check(path)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			var te *Error
			assert.ErrorAs(t, err, &te)
			assert.Contains(t, err.Error(), strings.ReplaceAll(tc.want, "ROOT/", root+"/"))
		})
	}
}

func TestCheckRelativePath(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root+"/p/x.so", "x")
	chmod(t, root+"/p", 0o777)
	t.Chdir(root)
	err := Check("p/x.so")
	require.Error(t, err)
	assert.Contains(t, err.Error(), root+"/p is writable by every user (mode 0777, no sticky bit), so anyone can replace "+root+"/p/x.so: run chmod o-w "+root+"/p")
}

func TestCheckUnresolvable(t *testing.T) {
	root := t.TempDir()
	symlink(t, root+"/nowhere.so", root+"/dangling.so")
	assert.ErrorIs(t, Check(root+"/dangling.so"), fs.ErrNotExist)
	assert.ErrorIs(t, Check(root+"/missing/x.so"), fs.ErrNotExist)

	symlink(t, root+"/b", root+"/a")
	symlink(t, root+"/a", root+"/b")
	assert.ErrorIs(t, Check(root+"/a"), syscall.ELOOP)

	writeFile(t, root+"/f", "x")
	assert.ErrorIs(t, Check(root+"/f/x.so"), syscall.ENOTDIR)

	var te *Error
	assert.False(t, errors.As(Check(root+"/a"), &te), "a loop is not a permission problem")
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if mode&0o1000 != 0 {
		mode = mode&0o777 | os.ModeSticky
	}
	require.NoError(t, os.Chmod(path, mode))
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
	require.NoError(t, os.Symlink(target, link))
}

// TestCheckerRemembersOnlyWhatPassed: one Checker over many paths gives
// each the verdict Check gives it alone.
func TestCheckerRemembersOnlyWhatPassed(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root+"/p/good.so", "x")
	writeFile(t, root+"/p/bad.so", "x")
	require.NoError(t, os.Chmod(root+"/p/bad.so", 0o666))
	writeFile(t, root+"/p/open/x.so", "x")
	chmod(t, root+"/p/open", 0o777)
	writeFile(t, root+"/shared/x.so", "x")
	chmod(t, root+"/shared", 0o777)
	symlink(t, root+"/shared/x.so", root+"/p/link.so")
	symlink(t, "/"+root+"/p/./open/../open/x.so", root+"/p/dots.so")
	symlink(t, "open/../good.so", root+"/p/up.so") // open/.. is p: nothing in open is consulted

	var c Checker
	for _, tc := range []struct {
		path, want string
	}{
		{root + "/p/good.so", ""},
		{root + "/p/bad.so", root + "/p/bad.so is writable by every user"},
		{root + "/p/open/x.so", root + "/p/open is writable by every user"},
		{root + "/p/open/x.so", root + "/p/open is writable by every user"},
		{root + "/p/link.so", root + "/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace " + root + "/shared/x.so, the target of the symlink " + root + "/p/link.so"},
		{root + "/p/dots.so", root + "/p/open is writable by every user"},
		{root + "/p/up.so", ""},
		{root + "/p", ""},
		{root + "/p/good.so", ""},
	} {
		err := c.Check(tc.path)
		if tc.want == "" {
			assert.NoError(t, err, tc.path)
			assert.NoError(t, Check(tc.path), tc.path)
			continue
		}
		if assert.Error(t, err, tc.path) {
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, Check(tc.path).Error(), err.Error())
		}
	}
}

// TestCheckOpen: CheckOpen gives every layout of TestCheck the verdict
// Check gives it, whether or not the Checker has already found the
// directory trusted, and a file it returns is the one at the path.
func TestCheckOpen(t *testing.T) {
	for _, tc := range checkCases() {
		for _, warm := range []bool{false, true} {
			name := tc.name
			if warm {
				name += "/directory checked before"
			}
			t.Run(name, func(t *testing.T) {
				root := t.TempDir()
				writeFile(t, root+"/p/x.so", "x")
				path := tc.setup(t, root)
				var c Checker
				if warm {
					_ = c.Check(filepath.Dir(path))
				}
				f, fi, err := c.CheckOpen(path)
				if f != nil {
					defer f.Close()
				}
				want := Check(path)
				if want == nil {
					require.NoError(t, err)
				} else {
					require.Error(t, err)
					assert.Equal(t, want.Error(), err.Error())
					assert.Nil(t, f, "no file is returned with an error")
				}
				if f != nil {
					data, err := io.ReadAll(f)
					require.NoError(t, err)
					onDisk, err := os.ReadFile(path)
					require.NoError(t, err)
					assert.Equal(t, onDisk, data)
					assert.Equal(t, int64(len(onDisk)), fi.Size())
				}
			})
		}
	}
}

// TestCheckOpenWhatItOpens: CheckOpen opens a regular file whose
// directory's path holds no symlink; for anything else it checks the
// path as Check does and leaves the opening to the caller.
func TestCheckOpenWhatItOpens(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root+"/p/x.so", "x")
	writeFile(t, root+"/shared/plugins/y.so", "y")
	symlink(t, root+"/p/x.so", root+"/p/link.so")
	symlink(t, root+"/shared/plugins", root+"/p/plugins")
	symlink(t, root+"/p/nowhere.so", root+"/p/dangling.so")
	require.NoError(t, os.Mkdir(root+"/p/dir.so", 0o755))
	for _, tc := range []struct {
		name, path string
		opened     bool
		notExist   bool
	}{
		{"a regular file", root + "/p/x.so", true, false},
		{"a symlink to a regular file", root + "/p/link.so", false, false},
		{"a file through a symlinked directory", root + "/p/plugins/y.so", false, false},
		{"a directory", root + "/p/dir.so", false, false},
		{"a dangling symlink", root + "/p/dangling.so", false, true},
		{"a missing file", root + "/p/missing.so", false, true},
		{"a file in a missing directory", root + "/missing/x.so", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Checker
			f, fi, err := c.CheckOpen(tc.path)
			if tc.notExist {
				assert.ErrorIs(t, err, fs.ErrNotExist)
				assert.Nil(t, f)
				return
			}
			require.NoError(t, err)
			if !tc.opened {
				assert.Nil(t, f, "left for the caller to open")
				return
			}
			require.NotNil(t, f)
			defer f.Close()
			assert.Equal(t, filepath.Base(tc.path), fi.Name())
			assert.True(t, fi.Mode().IsRegular())
		})
	}
}

// TestCheckOpenFIFO: a FIFO at the path is not opened for reading in a
// way that waits for a writer: one owned by another user is refused, as
// Check refuses it, and one of this user's is left to the caller.
func TestCheckOpenFIFO(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.Mkdir(root+"/p", 0o755))
	require.NoError(t, syscall.Mkfifo(root+"/p/mine.json", 0o644))
	checkOpen := func(path string) (*os.File, error) {
		t.Helper()
		type result struct {
			f   *os.File
			err error
		}
		done := make(chan result, 1)
		go func() {
			var c Checker
			f, _, err := c.CheckOpen(path)
			done <- result{f, err}
		}()
		select {
		case r := <-done:
			return r.f, r.err
		case <-time.After(10 * time.Second):
			t.Fatalf("CheckOpen(%s) did not return within 10s: it waits for a writer of the FIFO", path)
			return nil, nil
		}
	}
	f, err := checkOpen(root + "/p/mine.json")
	require.NoError(t, err)
	assert.Nil(t, f, "a FIFO is left to the caller, as after Check")

	t.Run("owned by another user in a sticky directory", func(t *testing.T) {
		requireRoot(t)
		chmod(t, root+"/p", 0o1777)
		require.NoError(t, syscall.Mkfifo(root+"/p/theirs.json", 0o644))
		require.NoError(t, os.Chown(root+"/p/theirs.json", otherUID, otherUID))
		f, err := checkOpen(root + "/p/theirs.json")
		assert.Nil(t, f)
		require.Error(t, err)
		assert.Equal(t, Check(root+"/p/theirs.json").Error(), err.Error())
		assert.Contains(t, err.Error(), root+"/p/theirs.json is owned by uid 54321")
	})
}
