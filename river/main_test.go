package river_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	"github.com/opa-stack/opa-go/river/internal/testprog"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// TestMain runs the test program instead of the tests in the child
// processes the tests start (see internal/testprog).
func TestMain(m *testing.M) {
	if os.Getenv("OPA_RIVER_TESTPROG") == "worker" {
		os.Exit(testprog.Main())
	}
	os.Exit(m.Run())
}

// forEachDatabase runs fn on a fresh SQLite file, then on a fresh Postgres
// database (see postgresURL).
func forEachDatabase(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "jobs.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresURL(t)) })
}

var dbCounter atomic.Int64

// postgresURL creates a database on the server OPA_TEST_POSTGRES_URL names
// (ci-postgres.sh starts one) and drops it after the test. Without the
// variable the test is skipped, or fails when CI=true.
func postgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("OPA_TEST_POSTGRES_URL")
	if admin == "" {
		const how = "start a throwaway server with: pg_env=$(bash river/ci-postgres.sh) && eval \"$pg_env\""
		testenv.Missing(t, "Postgres (OPA_TEST_POSTGRES_URL is not set)", how)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err, "connect to OPA_TEST_POSTGRES_URL")
	defer conn.Close(ctx)
	name := fmt.Sprintf("opa_river_test_%d_%d", os.Getpid(), dbCounter.Add(1))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(admin)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// startHost starts a Manager whose "jobs" component is the river driver on
// dbURL, with extra options (plugins), and returns its Jobs.
func startHost(t *testing.T, dbURL string, opts opa.Options, extra ...opa.Option) (*opa.Manager, *river.Jobs) {
	t.Helper()
	m, err := newHost(dbURL, opts, extra...)
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(context.Background()))
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	jobs, err := opa.InstanceOf[*river.Jobs](m, "jobs")
	require.NoError(t, err)
	return m, jobs
}

func newHost(dbURL string, opts opa.Options, extra ...opa.Option) (*opa.Manager, error) {
	o := opa.Options{"url": dbURL}
	for k, v := range opts {
		o[k] = v
	}
	cfg := opa.Config{
		DefaultPluginPath:  "/nonexistent/opa-river-test",
		OptionalComponents: map[string]opa.ComponentConfig{"jobs": {Driver: "river", Opts: o}},
	}
	return opa.New(append([]opa.Option{opa.WithConfig(cfg), opa.WithPlugin("river", river.Plugin)}, extra...)...)
}

// worker is a test program working in a child process.
type worker struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  string
	log  *syncBuffer
	done chan struct{}
	err  error
}

// startWorker starts a worker process on dbURL; env adds TP_ settings.
func startWorker(t *testing.T, dbURL string, env ...string) *worker {
	t.Helper()
	w := &worker{t: t, out: filepath.Join(t.TempDir(), "runs.txt"), log: &syncBuffer{}, done: make(chan struct{})}
	w.cmd = exec.Command(os.Args[0], "-test.run=^$")
	w.cmd.Env = append(os.Environ(), append([]string{"OPA_RIVER_TESTPROG=worker", "TP_URL=" + dbURL, "TP_OUT=" + w.out}, env...)...)
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	require.NoError(t, w.cmd.Start())
	go func() { w.err = w.cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			t.Logf("worker %d output:\n%s", w.cmd.Process.Pid, w.log.String())
		}
	})
	return w
}

// stop sends SIGTERM and requires a clean exit within d.
func (w *worker) stop(d time.Duration) {
	w.t.Helper()
	require.NoError(w.t, w.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-w.done:
		require.NoError(w.t, w.err, "worker exit after SIGTERM; output:\n%s", w.log.String())
	case <-time.After(d):
		w.t.Fatalf("worker did not stop within %s of SIGTERM; output:\n%s", d, w.log.String())
	}
}

// waitLog waits until the worker's output contains every one of want on one
// line, or fails after d. Each write to the output is the event it waits on.
func (w *worker) waitLog(d time.Duration, want ...string) string {
	w.t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		written := w.log.next()
		for line := range strings.Lines(w.log.String()) {
			if containsAll(line, want) {
				return line
			}
		}
		select {
		case <-written:
		case <-w.done:
			w.t.Fatalf("the worker exited (%v) before a line of its output contained all of %q; output:\n%s", w.err, want, w.log.String())
		case <-timeout.C:
			w.t.Fatalf("no line of the worker's output contains all of %q after %s; output:\n%s", want, d, w.log.String())
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// kill sends SIGKILL and waits for the process to end.
func (w *worker) kill() {
	w.t.Helper()
	require.NoError(w.t, w.cmd.Process.Kill())
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		w.t.Fatal("worker did not end within 30s of SIGKILL")
	}
}

// run is one line a test task recorded.
type run struct {
	kind string
	n    int
	pid  int
	what string
}

// runs reads what the worker's tasks recorded so far.
func (w *worker) runs() []run {
	w.t.Helper()
	f, err := os.Open(w.out)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(w.t, err)
	defer f.Close()
	var out []run
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		require.Len(w.t, fs, 4, "run line %q", sc.Text())
		n, _ := strconv.Atoi(fs[1])
		pid, _ := strconv.Atoi(fs[2])
		out = append(out, run{kind: fs[0], n: n, pid: pid, what: fs[3]})
	}
	require.NoError(w.t, sc.Err())
	return out
}

// waitRun waits until the worker's task recorded what for job number n, or
// fails after d. River marks a job running before its task starts: a test
// that must catch the task itself mid-run waits for this.
func (w *worker) waitRun(d time.Duration, n int, what string) {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for !slices.ContainsFunc(w.runs(), func(r run) bool { return r.n == n && r.what == what }) {
		if time.Now().After(deadline) {
			w.t.Fatalf("worker %d: no %q run of job %d after %s", w.cmd.Process.Pid, what, n, d)
		}
		time.Sleep(50 * time.Millisecond) // a file, no event: poll, bounded above
	}
}

// waitState waits until every job of ids is in state, or fails after d. It
// asks about one job at a time, so polling adds little load.
func waitState(t *testing.T, jobs *river.Jobs, ids []int64, state string, d time.Duration) {
	t.Helper()
	pending := append([]int64(nil), ids...)
	deadline := time.Now().Add(d)
	for len(pending) > 0 {
		row, err := jobs.Job(context.Background(), pending[0])
		require.NoError(t, err)
		if string(row.State) == state {
			pending = pending[1:]
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs not %s after %s; job %d is %s (attempt %d, errors %v)",
				len(pending), len(ids), state, d, row.ID, row.State, row.Attempt, row.Errors)
		}
		// A job's state has no event outside the worker's process: poll,
		// bounded by d.
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a child's output and a reader; next
// gives a channel closed at the following write.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

// next returns a channel closed by the next Write.
func (s *syncBuffer) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written == nil {
		s.written = make(chan struct{})
	}
	return s.written
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
