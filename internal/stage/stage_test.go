//go:build linux

package stage

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/preflight"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.so")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	sub := filepath.Join(dir, "dir.so")
	require.NoError(t, os.Mkdir(sub, 0o755))
	sock := filepath.Join(dir, "sock.so")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()

	for path, kind := range map[string]string{
		fifo:        "a named pipe (FIFO), not a regular file",
		sub:         "a directory, not a plugin file",
		sock:        "a socket, not a regular file",
		"/dev/null": "a character device, not a regular file",
	} {
		_, _, err := Open(path) // a FIFO with no writer must not block
		_, ok := errors.AsType[*preflight.NotRegularError](err)
		require.True(t, ok, "%s: %v", path, err)
		assert.Contains(t, err.Error(), path+" is "+kind)
	}
	_, _, err = Open(filepath.Join(dir, "missing.so"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestStageCopiesAndHashes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "hello.so")
	write(t, src, "plugin bytes")
	d, err := NewDir([]string{t.TempDir()})
	require.NoError(t, err)
	defer d.Remove()
	fi, err := os.Stat(d.Path())
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), fi.Mode().Perm(), "the private directory is the process's alone")

	for _, sum := range []bool{false, true} {
		f, err := d.Stage(src, "hello", sum)
		require.NoError(t, err)
		assert.True(t, f.Copied)
		assert.Equal(t, src, f.Source)
		assert.Equal(t, d.Path(), filepath.Dir(f.Path))
		got, err := os.ReadFile(f.Path)
		require.NoError(t, err)
		assert.Equal(t, "plugin bytes", string(got))
		if sum {
			want := sha256.Sum256([]byte("plugin bytes"))
			assert.Equal(t, want[:], f.SHA256)
		} else {
			assert.Nil(t, f.SHA256)
		}
	}

	// Writing into the source afterwards (cp over it) leaves the copy alone.
	f, err := d.Stage(src, "hello", false)
	require.NoError(t, err)
	write(t, src, "other bytes!")
	got, err := os.ReadFile(f.Path)
	require.NoError(t, err)
	assert.Equal(t, "plugin bytes", string(got))
}

func TestStageSameRealPathTwiceIsOneCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.so")
	write(t, src, "plugin bytes")
	link := filepath.Join(dir, "b.so")
	require.NoError(t, os.Symlink(src, link))
	other := filepath.Join(dir, "c.so")
	write(t, other, "plugin bytes")
	hard := filepath.Join(dir, "d.so")
	require.NoError(t, os.Link(src, hard))
	d, err := NewDir([]string{t.TempDir()})
	require.NoError(t, err)
	defer d.Remove()

	a, err := d.Stage(src, "a", false)
	require.NoError(t, err)
	b, err := d.Stage(link, "b", true)
	require.NoError(t, err)
	c, err := d.Stage(other, "c", false)
	require.NoError(t, err)
	assert.Equal(t, a.Path, b.Path, "the same file by another name is the same copy")
	assert.Equal(t, link, b.Source)
	assert.NotNil(t, b.SHA256, "a sum asked for the second time is computed")
	assert.NotEqual(t, a.Path, c.Path, "a byte copy is another file")
	h, err := d.Stage(hard, "d", false)
	require.NoError(t, err)
	assert.NotEqual(t, a.Path, h.Path, "a hard link is another path, which the runtime refuses as a copy")
}

func TestStageInPlace(t *testing.T) {
	src := filepath.Join(t.TempDir(), "hello.so")
	write(t, src, "plugin bytes")
	var d *Dir
	f, err := d.Stage(src, "hello", true)
	require.NoError(t, err)
	assert.False(t, f.Copied)
	assert.Equal(t, src, f.Path)
	want := sha256.Sum256([]byte("plugin bytes"))
	assert.Equal(t, want[:], f.SHA256)
	assert.NoError(t, d.Remove())
}

func TestUnchangedSeesAWriteDuringTheCopy(t *testing.T) {
	src := filepath.Join(t.TempDir(), "hello.so")
	write(t, src, "plugin bytes")
	f, fi, err := Open(src)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, unchanged(f, fi, fi.Size()))
	assert.ErrorIs(t, unchanged(f, fi, fi.Size()-1), ErrChanged, "a short read")
	require.NoError(t, os.Truncate(src, 3))
	err = unchanged(f, fi, fi.Size())
	require.ErrorIs(t, err, ErrChanged, "truncated since it was opened")
	assert.Contains(t, err.Error(), "12 bytes when opened, 12 read, 3 now")
}

func TestRemoveAndClean(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(t.TempDir(), "hello.so")
	write(t, src, "plugin bytes")
	d, err := NewDir([]string{base})
	require.NoError(t, err)
	_, err = d.Stage(src, "hello", false)
	require.NoError(t, err)

	// A live directory is not stale; one whose lock nobody holds is.
	assert.Equal(t, 0, Clean(base))
	dead := filepath.Join(base, Prefix+"1-dead")
	require.NoError(t, os.Mkdir(dead, 0o700))
	write(t, filepath.Join(dead, lockName), "")
	write(t, filepath.Join(dead, "x.so"), "left behind")
	notOurs := filepath.Join(base, "other-dir")
	require.NoError(t, os.Mkdir(notOurs, 0o700))
	// One that a process is making is left alone, unless it has been
	// making it for longer than a process takes.
	making := filepath.Join(base, newPrefix+"2-making")
	require.NoError(t, os.Mkdir(making, 0o700))
	abandoned := filepath.Join(base, newPrefix+"3-abandoned")
	require.NoError(t, os.Mkdir(abandoned, 0o700))
	old := time.Now().Add(-2 * staleAge)
	require.NoError(t, os.Chtimes(abandoned, old, old))
	assert.Equal(t, 2, Clean(base))
	assert.NoDirExists(t, dead)
	assert.NoDirExists(t, abandoned)
	assert.DirExists(t, making)
	assert.DirExists(t, notOurs)
	assert.DirExists(t, d.Path())

	require.NoError(t, d.Remove())
	assert.NoDirExists(t, d.Path())
}

func TestNewDirNamesEveryBaseTried(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	write(t, file, "")
	_, err := NewDir([]string{"/nonexistent/opa", file})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "/nonexistent/opa") && strings.Contains(err.Error(), file+" is not a directory"), err.Error())
	_, err = NewDir(nil)
	assert.Error(t, err)
}

// envStageLoop names the base of TestProcessesStartingTogether's children.
const envStageLoop = "OPA_STAGE_LOOP_BASE"

// TestProcessesStartingTogether: processes that make their directories in
// one base at once (make run starts a host and a worker together; each
// Startup cleans the base first) must never remove each other's. Before
// directories were locked under a name Clean passes over, 4 processes of
// 200 Startups each lost about 1.5% of them here ("copying ...: no such
// file or directory"), which failed the worker's Startup.
func TestProcessesStartingTogether(t *testing.T) {
	if base := os.Getenv(envStageLoop); base != "" {
		stageLoop(t, base, 100)
		return
	}
	base := t.TempDir()
	cmds := make([]*exec.Cmd, 4)
	outs := make([]strings.Builder, len(cmds))
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestProcessesStartingTogether$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), envStageLoop+"="+base)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		require.NoError(t, cmds[i].Start())
	}
	for i, cmd := range cmds {
		assert.NoError(t, cmd.Wait(), "process %d:\n%s", i, outs[i].String())
	}
	entries, err := os.ReadDir(base)
	require.NoError(t, err)
	assert.Empty(t, entries, "every process removed its own directory")
}

// stageLoop makes a directory in base, stages a file in it and removes
// it, rounds times, as a Startup does; it fails at the first that fails.
func stageLoop(t *testing.T, base string, rounds int) {
	src := filepath.Join(t.TempDir(), "hello.so")
	write(t, src, "plugin bytes")
	for i := range rounds {
		d, err := NewDir([]string{base})
		if err == nil {
			_, err = d.Stage(src, "hello", false)
			err = errors.Join(err, d.Remove())
		}
		if err != nil {
			t.Fatalf("round %d: another Startup took this one's directory for a dead one's: %v", i, err)
		}
	}
}

// TestCleanNeverTakesANewDirectory: a host and a worker started together
// (as make run starts them) each clean the base while the other makes its
// directory. Clean must never take a directory whose maker is alive, even
// in the moment between its lock file's creation and its lock.
func TestCleanNeverTakesANewDirectory(t *testing.T) {
	base := t.TempDir()
	stop := make(chan struct{})
	cleaned := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				cleaned <- n
				return
			default:
				n += Clean(base)
			}
		}
	}()
	// The cleaner stops however the test ends (stageLoop may fail it).
	stopped := sync.OnceValue(func() int { close(stop); return <-cleaned })
	t.Cleanup(func() { stopped() })
	stageLoop(t, base, 300)
	assert.Zero(t, stopped(), "Clean removed a live directory")
}
