package pidfile_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/pidfile"
	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/testenv"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		f := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(f, []byte(content), 0o644))
		return f
	}

	pid, err := pidfile.Read(write("ok.pid", "4242\n"))
	require.NoError(t, err)
	assert.Equal(t, 4242, pid)

	for _, tc := range []struct{ name, content, want string }{
		{"words.pid", "not a pid\n", ` holds "not a pid\n", not a PID`},
		{"zero.pid", "0", ` holds "0", not a PID`},
		{"negative.pid", "-7", ` holds "-7", not a PID`},
		{"big.pid", strings.Repeat("1", 65), ": it is 65 bytes, more than the 64 a PID file may have: is it the right file?"},
	} {
		f := write(tc.name, tc.content)
		_, err := pidfile.Read(f)
		require.Error(t, err, tc.name)
		assert.EqualError(t, err, f+tc.want, tc.name)
	}

	_, err = pidfile.Read(filepath.Join(dir, "missing.pid"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), filepath.Join(dir, "missing.pid"))
}

// A named pipe given as a PID file is refused at once: opening one to read
// waits for a writer, for ever.
func TestReadRefusesANamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "host.pid")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	err := testenv.Returns(t, "reading a named pipe as a PID file", func() error {
		_, err := pidfile.Read(fifo)
		return err
	})
	var nr *preflight.NotRegularError
	require.ErrorAs(t, err, &nr)
	assert.EqualError(t, err, fifo+" is a named pipe (FIFO), not a regular file: a PID file must be a regular file")

	// The outcome file is read the same way: Ask refuses a named pipe in
	// its place at once, before it signals the process.
	pidFile := filepath.Join(t.TempDir(), "host.pid")
	child := startIgnoringHUP(t)
	writePID(t, pidFile, child)
	require.NoError(t, syscall.Mkfifo(pidfile.OutcomeFile(pidFile), 0o644))
	err = testenv.Returns(t, "Ask with a named pipe as the outcome file", func() error {
		_, err := pidfile.Ask(pidFile)
		return err
	})
	assert.EqualError(t, err, pidfile.OutcomeFile(pidFile)+" is a named pipe (FIFO), not a regular file: a reload outcome must be a regular file")
	_, err = pidfile.Check(pidFile)
	assert.ErrorContains(t, err, "is a named pipe (FIFO)", "Check reads the outcome file too")
}

// writePID writes the PID of cmd's process to pidFile, as a host does.
func writePID(t *testing.T, pidFile string, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
}

// startIgnoringHUP starts a process that ignores SIGHUP, as a host that
// reloads on it stays alive, and kills it when the test ends.
func startIgnoringHUP(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", `trap "" HUP; exec sleep 60`)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func TestAskAndDone(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "host.pid")
	child := startIgnoringHUP(t)
	pid := child.Process.Pid
	require.NoError(t, os.WriteFile(pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644))

	// An outcome of an earlier reload of the same process is there already.
	earlier := pidfile.Outcome{PID: pid, Started: time.Now().Add(-time.Hour).UTC(), OK: true}
	require.NoError(t, pidfile.WriteOutcome(pidFile, earlier))

	r, err := pidfile.Ask(pidFile)
	require.NoError(t, err)
	assert.Equal(t, pid, r.PID)
	_, done, err := r.Done()
	require.NoError(t, err)
	assert.False(t, done, "the earlier outcome is not this reload's")

	// Another process's outcome is not this reload's either.
	require.NoError(t, pidfile.WriteOutcome(pidFile, pidfile.Outcome{PID: pid + 1, OK: true}))
	_, done, err = r.Done()
	require.NoError(t, err)
	assert.False(t, done, "an outcome written by another PID")

	want := pidfile.Outcome{PID: pid, Started: time.Now().UTC().Truncate(time.Millisecond), Error: "serve: the new process failed"}
	require.NoError(t, pidfile.WriteOutcome(pidFile, want))
	got, done, err := r.Done()
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, want.PID, got.PID)
	assert.True(t, want.Started.Equal(got.Started), "%v, want %v", got.Started, want.Started)
	assert.Equal(t, want.OK, got.OK)
	assert.Equal(t, want.Error, got.Error)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"host.pid", "host.pid.reload"}, names, "no temporary file is left")
}

func TestDoneWhenTheProcessExited(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "host.pid")
	child := startIgnoringHUP(t)
	writePID(t, pidFile, child)
	r, err := pidfile.Ask(pidFile)
	require.NoError(t, err)
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
	_, done, err := r.Done()
	assert.False(t, done)
	assert.ErrorIs(t, err, pidfile.ErrExited)
}

func TestAskAProcessThatIsGone(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "host.pid")
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	writePID(t, pidFile, gone)
	_, err := pidfile.Ask(pidFile)
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ESRCH), "%v", err)
	assert.Contains(t, err.Error(), "cannot signal process "+strconv.Itoa(gone.Process.Pid)+", which "+pidFile+" names")
}

// A process that handed over but could not write its outcome (a full
// disk) is gone when Done looks; the PID file then names the new process,
// which runs: the reload worked.
func TestDoneReadsThePIDFileWhenTheOutcomeIsMissing(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "host.pid")
	old := startIgnoringHUP(t)
	writePID(t, pidFile, old)
	r, err := pidfile.Ask(pidFile)
	require.NoError(t, err)

	successor := startIgnoringHUP(t)
	writePID(t, pidFile, successor)
	require.NoError(t, old.Process.Kill())
	_ = old.Wait()
	o, done, err := r.Done()
	require.NoError(t, err)
	assert.True(t, done)
	assert.True(t, o.OK)
	assert.Equal(t, old.Process.Pid, o.PID)

	// The PID file names a process that is gone too: the reload failed.
	require.NoError(t, successor.Process.Kill())
	_ = successor.Wait()
	_, done, err = r.Done()
	assert.False(t, done)
	assert.ErrorIs(t, err, pidfile.ErrExited)
}

func TestWriteOutcomeThatFailsLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "host.pid")
	require.NoError(t, os.Mkdir(pidfile.OutcomeFile(pidFile), 0o755)) // a directory in its place
	require.NoError(t, os.WriteFile(filepath.Join(pidfile.OutcomeFile(pidFile), "x"), nil, 0o644))
	err := pidfile.WriteOutcome(pidFile, pidfile.Outcome{PID: 1, OK: true})
	require.Error(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the directory that was there: no temporary file is left")
	assert.Equal(t, "host.pid.reload", entries[0].Name())
}
