package river_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	"github.com/opa-stack/opa-go/river/internal/testprog"
	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitJob polls the job until ok says yes, or fails after d with what it
// waited for.
func waitJob(t *testing.T, jobs *river.Jobs, id int64, what string, d time.Duration, ok func(*river.JobRow) bool) *river.JobRow {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		row, err := jobs.Job(context.Background(), id)
		require.NoError(t, err)
		if ok(row) {
			return row
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d: not %s after %s: %s, attempt %d", id, what, d, row.State, row.Attempt)
		}
		time.Sleep(100 * time.Millisecond) // a job's state has no event here: poll, bounded
	}
}

// A plugin removed from the fleet turns nothing off: a worker without it,
// not declared partial, leads (a periodic task runs under it); the jobs of
// the removed plugin's kind, which nobody runs, are orphans in Counts and
// an ERROR naming the kind once OPTS.orphan_alarm has passed; an operator
// cancels them.
func TestRemovedPluginKeepsLeader(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		ctx := context.Background()
		gone, err := jobs.Enqueue(ctx, "test.late", testprog.Args{N: 1, Until: time.Now().Add(time.Hour).UnixMilli()}, nil)
		require.NoError(t, err)
		v1 := startWorker(t, dbURL, "TP_PLUGINS=a,every,late")
		waitJob(t, jobs, gone.ID, "attempted and not running", 60*time.Second, func(r *river.JobRow) bool {
			return r.Attempt >= 1 && r.State != rivertype.JobStateRunning
		})
		v1.stop(30 * time.Second)

		// v2 has no plugin late.
		v2 := startWorker(t, dbURL, "TP_PLUGINS=a,every", `TP_OPTS={"orphan_alarm": "1s"}`)
		v2.waitLog(60*time.Second, "river: working", "leader_election=true")
		line := v2.waitLog(60*time.Second, "level=ERROR", "jobs wait for a task that no running worker has")
		assert.Contains(t, line, "kinds=test.late")
		// Two periodic runs in v2: at least one enqueued by it as leader.
		deadline := time.Now().Add(60 * time.Second)
		for len(whatsKind(v2.runs(), "test.every")) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("v2 ran %d periodic jobs in 60s; output:\n%s", len(whatsKind(v2.runs(), "test.every")), v2.log.String())
			}
			time.Sleep(200 * time.Millisecond) // a file, no event: poll, bounded above
		}

		counts, err := jobs.Counts(ctx)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"test.late": 1}, counts.Orphans)
		n, err := jobs.CancelOrphans(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		row, err := jobs.Job(ctx, gone.ID)
		require.NoError(t, err)
		assert.Equal(t, rivertype.JobStateCancelled, row.State)
		v2.stop(30 * time.Second)
		assert.NotContains(t, v2.log.String(), "river: no leader")
	})
}

func whatsKind(runs []run, kind string) []run {
	var out []run
	for _, r := range runs {
		if r.kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// Orphans are the waiting jobs of kinds no running worker has: a host
// sees them, and cancels or deletes them, except those of kinds it has a
// task for itself; a worker's kinds stop being orphans while it works.
func TestOrphansCancelAndDelete(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil, opa.WithPlugin("a", opa.Plugin{Tasks: []opa.Task{testprog.Declare("a")}}))
		ctx := context.Background()
		enqueue(t, jobs, "test.a", seq(1, 2), nil)
		// Due in an hour: the worker of b below does not run them.
		enqueue(t, jobs, "test.b", seq(1, 3), &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
		enqueue(t, jobs, "test.tpyo", seq(1, 1), nil)
		orphans, err := jobs.Orphans(ctx)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"test.a": 2, "test.b": 3, "test.tpyo": 1}, orphans)

		// While a worker of b works, b is no orphan.
		w := startWorker(t, dbURL, "TP_PLUGINS=b")
		w.waitLog(60*time.Second, "river: working")
		deadline := time.Now().Add(60 * time.Second)
		for {
			orphans, err = jobs.Orphans(ctx)
			require.NoError(t, err)
			if _, ok := orphans["test.b"]; !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("test.b is still an orphan 60s after its worker started: %v", orphans)
			}
			time.Sleep(100 * time.Millisecond) // no event outside the worker: poll, bounded
		}
		w.stop(30 * time.Second)

		n, err := jobs.DeleteOrphans(ctx)
		require.NoError(t, err)
		// b is an orphan again once its worker stopped.
		assert.Equal(t, 4, n, "test.tpyo and test.b deleted; test.a is this host's task")
		n, err = jobs.CancelOrphans(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)
		orphans, err = jobs.Orphans(ctx)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"test.a": 2}, orphans)
	})
}

// A periodic task runs once per interval across handovers: two workers,
// restarted in turn three times, never enqueue it twice within its
// interval (2s); its runs are on the clock's multiples of it.
func TestPeriodicAcrossHandovers(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		const every = 2 * time.Second // testprog's TaskEvery
		_, jobs := startHost(t, dbURL, nil)
		ctx := context.Background()
		env := []string{"TP_PLUGINS=every", "TP_STOP_TIMEOUT=2s"}
		ws := [2]*worker{startWorker(t, dbURL, env...), startWorker(t, dbURL, env...)}
		list := func() []*river.JobRow {
			res, err := jobs.List(ctx, river.NewJobListParams().Kinds("test.every").First(1000))
			require.NoError(t, err)
			return res.Jobs
		}
		// waitMore waits for a periodic job beyond the n there are.
		waitMore := func(n int) int {
			deadline := time.Now().Add(90 * time.Second)
			for {
				if got := len(list()); got > n {
					return got
				}
				if time.Now().After(deadline) {
					t.Fatalf("no periodic job beyond %d after 90s", n)
				}
				time.Sleep(200 * time.Millisecond) // no event outside the workers: poll, bounded
			}
		}
		n := waitMore(0)
		for i := range 3 {
			ws[i%2].stop(30 * time.Second)
			ws[i%2] = startWorker(t, dbURL, env...)
			n = waitMore(n)
		}
		n = waitMore(n)
		waitMore(n)
		ws[0].stop(30 * time.Second)
		ws[1].stop(30 * time.Second)

		// A job's scheduled_at is the time of its run on the leader's
		// schedule, unless a stopping worker put it back (see Work; its
		// metadata.snoozes says so): River's snooze moved it to that time.
		var at, created []time.Time
		putBack := 0
		all := list()
		for _, j := range all {
			created = append(created, j.CreatedAt)
			if metadataField(t, j.Metadata, "snoozes") != nil {
				putBack++
				continue
			}
			at = append(at, j.ScheduledAt)
			assert.Equal(t, j.ScheduledAt.Truncate(every), j.ScheduledAt, "job %d is not on a multiple of the interval", j.ID)
		}
		t.Logf("%d periodic jobs, %d of them put back by a stopping worker", len(all), putBack)
		slices.SortFunc(at, time.Time.Compare)
		require.GreaterOrEqual(t, len(at), 3)
		for i := 1; i < len(at); i++ {
			assert.GreaterOrEqual(t, at[i].Sub(at[i-1]), every, "runs %d and %d: %s and %s", i-1, i, at[i-1], at[i])
		}
		// No more jobs than intervals in the time they were stored over (a
		// second of slack for SQLite's lock waits): a second run in an
		// interval would add one.
		slices.SortFunc(created, time.Time.Compare)
		span := created[len(created)-1].Sub(created[0]) + time.Second
		assert.LessOrEqual(t, len(all), int(span/every)+1, "%d jobs stored within %s", len(all), span)
	})
}

// A task that ignores its context does not hold the process past
// OPTS.stop_timeout: SIGTERM to exit is bounded; the job is left running
// for River's rescue.
func TestStopTimeoutBoundsExit(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		row, err := jobs.Enqueue(context.Background(), "test.stubborn", testprog.Args{N: 1, MS: 600_000}, nil)
		require.NoError(t, err)
		w := startWorker(t, dbURL, "TP_PLUGINS=stubborn", "TP_STOP_TIMEOUT=2s")
		waitState(t, jobs, []int64{row.ID}, "running", 60*time.Second)
		w.waitRun(60*time.Second, 1, "started")
		require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
		// stop_timeout (2s), and a few seconds for the process to end.
		select {
		case <-w.done:
		case <-time.After(2*time.Second + 5*time.Second):
			t.Fatalf("the worker did not exit within 7s of SIGTERM with stop_timeout 2s; output:\n%s", w.log.String())
		}
		assert.Contains(t, w.log.String(), "jobs still running")
		row, err = jobs.Job(context.Background(), row.ID)
		require.NoError(t, err)
		assert.Equal(t, rivertype.JobStateRunning, row.State)
	})
}

// River's extension points reach the working client: the host's worker
// middleware wraps each job, its ErrorHandler hears each error (which
// names the plugin and the kind), and Subscribe gives the working client's
// events, and is an error, not a panic, when no Work runs.
func TestWorkWithExtensionPoints(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		okTask := opa.NewTask("test.ext_ok", func(context.Context, struct{}) error { return nil })
		failTask := opa.NewTask("test.ext_fail", func(context.Context, struct{}) error { return errors.New("no luck") })
		m, jobs := startHost(t, dbURL, opa.Options{"poll_interval": "100ms", "leader": "yes"},
			opa.WithPlugin("ext", opa.Plugin{Tasks: []opa.Task{okTask, failTask}}))
		ctx := context.Background()
		_, _, err := jobs.Subscribe(&rq.SubscribeConfig{Kinds: []rq.EventKind{rq.EventKindJobCompleted}})
		assert.ErrorIs(t, err, opa.ErrState)
		_, err = jobs.Working()
		assert.ErrorIs(t, err, opa.ErrState)

		var wrapped atomic.Int64
		mw := rq.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
			wrapped.Add(1)
			return doInner(ctx)
		})
		handled := make(chan string, 10)
		worked := make(chan error, 1)
		go func() {
			worked <- jobs.WorkWith(ctx, river.WorkOptions{Middleware: []rivertype.Middleware{mw}, ErrorHandler: &errRecorder{errs: handled}})
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := jobs.Working(); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Working is an error 30s after WorkWith began")
			}
			time.Sleep(20 * time.Millisecond) // no event for "started": poll, bounded
		}
		events, cancel, err := jobs.Subscribe(&rq.SubscribeConfig{Kinds: []rq.EventKind{rq.EventKindJobCompleted}})
		require.NoError(t, err)
		defer cancel()

		ok, err := jobs.Enqueue(ctx, "test.ext_ok", nil, nil)
		require.NoError(t, err)
		fail, err := jobs.Enqueue(ctx, "test.ext_fail", nil, &river.InsertOpts{MaxAttempts: 1})
		require.NoError(t, err)
		select {
		case ev := <-events:
			assert.Equal(t, ok.ID, ev.Job.ID)
		case <-time.After(30 * time.Second):
			t.Fatal("no completed event within 30s")
		}
		select {
		case msg := <-handled:
			assert.Equal(t, "plugin ext, task test.ext_fail: no luck", msg)
		case <-time.After(30 * time.Second):
			t.Fatal("the ErrorHandler heard no error within 30s")
		}
		row := waitJob(t, jobs, fail.ID, "discarded", 30*time.Second, func(r *river.JobRow) bool { return r.State == rivertype.JobStateDiscarded })
		require.Len(t, row.Errors, 1)
		assert.True(t, strings.HasPrefix(row.Errors[0].Error, "plugin ext, task test.ext_fail: "), row.Errors[0].Error)
		assert.GreaterOrEqual(t, wrapped.Load(), int64(2))

		require.NoError(t, m.Shutdown(ctx))
		select {
		case err := <-worked:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("WorkWith did not return within 30s of Shutdown")
		}
	})
}

// errRecorder is a River ErrorHandler that sends each error's message.
type errRecorder struct{ errs chan string }

func (r *errRecorder) HandleError(_ context.Context, _ *rivertype.JobRow, err error) *rq.ErrorHandlerResult {
	r.errs <- err.Error()
	return nil
}

func (r *errRecorder) HandlePanic(_ context.Context, _ *rivertype.JobRow, v any, _ string) *rq.ErrorHandlerResult {
	return nil
}
