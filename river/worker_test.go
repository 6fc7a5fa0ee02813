package river_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	"github.com/opa-stack/opa-go/river/internal/testprog"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// enqueue adds one job of kind per n in ns, from the host.
func enqueue(t *testing.T, jobs *river.Jobs, kind string, ns []int, opts *river.InsertOpts) []int64 {
	t.Helper()
	var ids []int64
	for _, n := range ns {
		row, err := jobs.Enqueue(context.Background(), kind, testprog.Args{N: n}, opts)
		require.NoError(t, err)
		ids = append(ids, row.ID)
	}
	return ids
}

func seq(from, to int) []int {
	var out []int
	for n := from; n <= to; n++ {
		out = append(out, n)
	}
	return out
}

// Two worker processes start at once on a fresh database (both migrate);
// then, enqueued from a third process, 300 jobs run: each once, both
// workers taking part. (No worker crashes here: in general delivery is
// at-least-once, see TestKilledWorkersJobIsRescued.)
func TestTwoWorkersRunEachJobOnce(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		w1 := startWorker(t, dbURL, "TP_PLUGINS=a")
		w2 := startWorker(t, dbURL, "TP_PLUGINS=a")
		// Both must be working before the jobs come, or the first one
		// ready may run them all.
		w1.waitLog(60*time.Second, "river: working")
		w2.waitLog(60*time.Second, "river: working")
		_, jobs := startHost(t, dbURL, nil)
		ids := enqueue(t, jobs, "test.a", seq(1, 300), nil)
		waitState(t, jobs, ids, "completed", 90*time.Second)
		w1.stop(30 * time.Second)
		w2.stop(30 * time.Second)

		count := map[int]int{}
		perWorker := map[int]int{}
		for _, r := range append(w1.runs(), w2.runs()...) {
			require.Equal(t, "test.a", r.kind)
			count[r.n]++
			perWorker[r.pid]++
		}
		for n := 1; n <= 300; n++ {
			assert.Equal(t, 1, count[n], "job n=%d ran %d times", n, count[n])
		}
		assert.Len(t, count, 300)
		assert.Len(t, perWorker, 2, "both workers ran jobs: %v", perWorker)
		t.Logf("split: %d/%d", len(w1.runs()), len(w2.runs()))
	})
}

// A worker never takes jobs of kinds it has no plugin for: they wait, with
// no attempt used, until a worker that has the plugin runs them. Under
// leader: auto a worker takes part in the election unless it is declared
// partial; a plugin left out does not change that.
func TestWorkerWithoutPluginLeavesJobsWaiting(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		bIDs := enqueue(t, jobs, "test.b", seq(1, 5), nil)
		aIDs := enqueue(t, jobs, "test.a", seq(1, 5), nil)

		// Plugin b is compiled in but blacklisted: a plugin found, not loaded.
		wa := startWorker(t, dbURL, "TP_PLUGINS=a", "TP_BLACKLIST=b")
		// The test.a jobs, enqueued after the test.b ones, are done: the
		// worker has fetched past the test.b jobs.
		waitState(t, jobs, aIDs, "completed", 60*time.Second)
		for _, id := range bIDs {
			row, err := jobs.Job(context.Background(), id)
			require.NoError(t, err)
			assert.Equal(t, "available", string(row.State), "job %d", id)
			assert.Zero(t, row.Attempt, "job %d", id)
		}
		wa.stop(30 * time.Second)
		assert.Contains(t, wa.log.String(), "leader_election=true")
		for _, r := range wa.runs() {
			assert.Equal(t, "test.a", r.kind)
		}

		// A worker declared partial stays out of the election.
		wp := startWorker(t, dbURL, "TP_PLUGINS=a", `TP_OPTS={"partial": true}`)
		wp.waitLog(60*time.Second, "river: working", "leader_election=false", "OPTS.partial is true")
		wb := startWorker(t, dbURL, "TP_PLUGINS=b,a")
		waitState(t, jobs, bIDs, "completed", 60*time.Second)
		wp.stop(30 * time.Second)
		wb.stop(30 * time.Second)
		assert.Empty(t, wp.runs())
		assert.Len(t, wb.runs(), 5)
	})
}

// A fleet of leader: auto workers, after a job of a kind no worker has (a
// typo) was enqueued, still elects a leader: a scheduled job and a retry
// later than 5s, which only the leader moves to the queue, run. The typo
// job is left alone.
func TestAutoWorkersElectLeaderDespiteUnknownKind(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		ctx := context.Background()
		typo, err := jobs.Enqueue(ctx, "test.tpyo", testprog.Args{N: 1}, nil)
		require.NoError(t, err)
		scheduled, err := jobs.Enqueue(ctx, "test.a", testprog.Args{N: 2}, &river.InsertOpts{ScheduledAt: time.Now().Add(6 * time.Second)})
		require.NoError(t, err)
		require.Equal(t, "scheduled", string(scheduled.State))
		// It fails for 15s: attempt 1 at once, attempt 2 a second later
		// (River makes it available itself), attempt 3 about 16s after that,
		// a retry that only the leader moves back to the queue.
		late, err := jobs.Enqueue(ctx, "test.late", testprog.Args{N: 3, Until: time.Now().Add(15 * time.Second).UnixMilli()}, nil)
		require.NoError(t, err)

		w1 := startWorker(t, dbURL, "TP_PLUGINS=a,late")
		w2 := startWorker(t, dbURL, "TP_PLUGINS=a,late")
		waitState(t, jobs, []int64{scheduled.ID, late.ID}, "completed", 120*time.Second)
		row, err := jobs.Job(ctx, late.ID)
		require.NoError(t, err)
		assert.Equal(t, 3, row.Attempt, "the late job failed twice, then ran after a retry later than 5s")
		w1.stop(30 * time.Second)
		w2.stop(30 * time.Second)
		assert.Contains(t, w1.log.String(), "leader_election=true")
		assert.Contains(t, w2.log.String(), "leader_election=true")
		row, err = jobs.Job(ctx, typo.ID)
		require.NoError(t, err)
		assert.Equal(t, "available", string(row.State))
		assert.Zero(t, row.Attempt)
	})
}

// A worker that sees no leader for OPTS.leader_alarm logs an error.
func TestNoLeaderIsAnError(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		startHost(t, dbURL, nil) // migrates
		w := startWorker(t, dbURL, "TP_PLUGINS=a", `TP_OPTS={"leader": "no", "leader_alarm": "1s"}`)
		w.waitLog(60*time.Second, "level=ERROR", "river: no leader", "without_leader_for=1s")
		w.stop(30 * time.Second)
	})
}

// A task that returns an error is retried as River retries; one that keeps
// failing is discarded after its max attempts, logged at ERROR. Each
// recorded error starts with the plugin and the kind.
func TestFailedTasksAreRetried(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		flaky := enqueue(t, jobs, "test.flaky", []int{1, 2}, nil)
		failing := enqueue(t, jobs, "test.fail", []int{3}, &river.InsertOpts{MaxAttempts: 2})
		w := startWorker(t, dbURL, "TP_PLUGINS=flaky,fail")
		waitState(t, jobs, flaky, "completed", 60*time.Second)
		waitState(t, jobs, failing, "discarded", 60*time.Second)
		w.stop(30 * time.Second)

		for _, id := range flaky {
			row, err := jobs.Job(context.Background(), id)
			require.NoError(t, err)
			assert.Equal(t, 2, row.Attempt)
			require.Len(t, row.Errors, 1)
			assert.Contains(t, row.Errors[0].Error, "fails its first run")
			assert.True(t, strings.HasPrefix(row.Errors[0].Error, "plugin flaky, task test.flaky: "), row.Errors[0].Error)
		}
		row, err := jobs.Job(context.Background(), failing[0])
		require.NoError(t, err)
		assert.Equal(t, 2, row.Attempt)
		assert.Len(t, row.Errors, 2)
		line := w.waitLog(time.Second, "level=ERROR", "river: job discarded")
		for _, want := range []string{"plugin=fail", "kind=test.fail", "attempts=2", `error="plugin fail, task test.fail: this task always fails"`} {
			assert.Contains(t, line, want)
		}
	})
}

// On SIGTERM a worker lets a running job finish within three quarters of
// stop_timeout, and cancels and releases one that does not: it is back in
// the queue before the process exits, its attempt not counted, and
// another worker runs it. No job is lost.
func TestSIGTERMFinishesOrReleasesJobs(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		ctx := context.Background()
		short, err := jobs.Enqueue(ctx, "test.slow", testprog.Args{N: 1, MS: 1000}, nil)
		require.NoError(t, err)
		long, err := jobs.Enqueue(ctx, "test.slow", testprog.Args{N: 2, MS: 600_000}, nil)
		require.NoError(t, err)

		w := startWorker(t, dbURL, "TP_PLUGINS=slow", "TP_STOP_TIMEOUT=3s")
		waitState(t, jobs, []int64{short.ID, long.ID}, "running", 60*time.Second)
		w.waitRun(60*time.Second, 1, "started")
		w.waitRun(60*time.Second, 2, "started")
		// The whole stop is bounded by stop_timeout (3s): the bound here
		// leaves the process a few seconds to start and end.
		w.stop(3*time.Second + 5*time.Second)

		row, err := jobs.Job(ctx, short.ID)
		require.NoError(t, err)
		assert.Equal(t, "completed", string(row.State), "the short job finished during the soft stop")
		row, err = jobs.Job(ctx, long.ID)
		require.NoError(t, err)
		assert.Equal(t, "available", string(row.State), "the long job was released")
		assert.Zero(t, row.Attempt, "its attempt is not counted")
		assert.Empty(t, row.Errors)

		w2 := startWorker(t, dbURL, "TP_PLUGINS=slow", "TP_SLOW_FAST=1")
		waitState(t, jobs, []int64{long.ID}, "completed", 60*time.Second)
		w2.stop(30 * time.Second)
		assert.Equal(t, []string{"started", "cancelled"}, whats(w.runs(), 2))
		assert.Equal(t, []string{"started", "ok"}, whats(w2.runs(), 2))
	})
}

func whats(runs []run, n int) []string {
	var out []string
	for _, r := range runs {
		if r.n == n {
			out = append(out, r.what)
		}
	}
	return out
}

// Jobs go to the queue the settings name (OPTS.queue), and a worker works
// every queue of OPTS.queues: a job on a non-default queue is worked. A
// queue that no worker of the settings serves is refused at Enqueue, never
// left to wait forever. The worker polls (poll_only), without LISTEN, as
// behind PgBouncer in transaction mode.
func TestNonDefaultQueuesAreWorked(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		const opts = `{"queue": "mail", "queues": {"mail": 2, "reports": 1}, "poll_only": true}`
		// A host that only names its queue: Enqueue puts jobs there.
		_, mailHost := startHost(t, dbURL, opa.Options{"queue": "mail"})
		ctx := context.Background()
		mail, err := mailHost.Enqueue(ctx, "test.a", testprog.Args{N: 1}, nil)
		require.NoError(t, err)
		assert.Equal(t, "mail", mail.Queue)

		_, jobs := startHost(t, dbURL, opa.Options{"queue": "mail", "queues": map[string]any{"mail": 2, "reports": 1}})
		report, err := jobs.Enqueue(ctx, "test.a", testprog.Args{N: 2}, &river.InsertOpts{Queue: "reports"})
		require.NoError(t, err)
		assert.Equal(t, "reports", report.Queue)
		_, err = jobs.Enqueue(ctx, "test.a", testprog.Args{N: 3}, &river.InsertOpts{Queue: "default"})
		assert.ErrorContains(t, err, `queue "default" is not worked: this configuration works mail, reports (OPTS.queues and`)

		w := startWorker(t, dbURL, "TP_PLUGINS=a", "TP_OPTS="+opts)
		waitState(t, jobs, []int64{mail.ID, report.ID}, "completed", 60*time.Second)
		w.stop(30 * time.Second)
		assert.Len(t, w.runs(), 2)
	})
}

// A worker SIGKILLed mid-job leaves the job running; the leader rescues it
// after OPTS.rescue_after and another worker runs it again: delivery is
// at-least-once.
func TestKilledWorkersJobIsRescued(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		ctx := context.Background()
		row, err := jobs.Enqueue(ctx, "test.slow", testprog.Args{N: 1, MS: 600_000}, nil)
		require.NoError(t, err)

		w1 := startWorker(t, dbURL, "TP_PLUGINS=slow")
		waitState(t, jobs, []int64{row.ID}, "running", 60*time.Second)
		w1.waitRun(60*time.Second, 1, "started")
		w1.kill()

		w2 := startWorker(t, dbURL, "TP_PLUGINS=slow", "TP_SLOW_FAST=1", `TP_OPTS={"job_timeout": "1s", "rescue_after": "2s"}`)
		waitState(t, jobs, []int64{row.ID}, "completed", 120*time.Second)
		w2.stop(30 * time.Second)

		row, err = jobs.Job(ctx, row.ID)
		require.NoError(t, err)
		assert.Equal(t, 2, row.Attempt, "the rescued job ran a second time")
		require.Len(t, row.Errors, 1)
		assert.Contains(t, row.Errors[0].Error, "Stuck job rescued")
		assert.Equal(t, []string{"started"}, whats(w1.runs(), 1))
		assert.Equal(t, []string{"started", "ok"}, whats(w2.runs(), 1))
	})
}

// Args that can never decode into the task's type (a value of the wrong
// type, a misnamed field) cancel the job on its first attempt, with the
// reason; they are not retried for weeks.
func TestBadArgsCancelTheJob(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		ctx := context.Background()
		bad, err := jobs.Enqueue(ctx, "test.a", map[string]any{"n": "seven"}, nil)
		require.NoError(t, err)
		misnamed, err := jobs.Enqueue(ctx, "test.a", map[string]any{"nn": 7}, nil)
		require.NoError(t, err)
		good, err := jobs.Enqueue(ctx, "test.a", testprog.Args{N: 7}, nil)
		require.NoError(t, err)
		w := startWorker(t, dbURL, "TP_PLUGINS=a")
		waitState(t, jobs, []int64{good.ID}, "completed", 60*time.Second)
		waitState(t, jobs, []int64{bad.ID, misnamed.ID}, "cancelled", 60*time.Second)
		w.stop(30 * time.Second)

		for id, reason := range map[int64]string{bad.ID: "cannot unmarshal string", misnamed.ID: `unknown field "nn"`} {
			row, err := jobs.Job(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, 1, row.Attempt)
			require.Len(t, row.Errors, 1)
			assert.Contains(t, row.Errors[0].Error, "cancelled, not retried: its args are bad")
			assert.Contains(t, row.Errors[0].Error, reason)
		}
		assert.Len(t, w.runs(), 1, "only the good job ran")
	})
}

// A task that returns opa.CancelTask is cancelled at once, with its reason,
// though it has attempts left.
func TestCancelTaskCancelsTheJob(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		ids := enqueue(t, jobs, "test.cancel", []int{1}, nil)
		w := startWorker(t, dbURL, "TP_PLUGINS=cancel")
		waitState(t, jobs, ids, "cancelled", 60*time.Second)
		w.stop(30 * time.Second)

		row, err := jobs.Job(context.Background(), ids[0])
		require.NoError(t, err)
		assert.Equal(t, 1, row.Attempt)
		assert.Greater(t, row.MaxAttempts, 1)
		require.Len(t, row.Errors, 1)
		assert.Contains(t, row.Errors[0].Error, "cancelled by its task")
		assert.Contains(t, row.Errors[0].Error, "cancel 1: the note is gone")
		assert.Equal(t, []string{"cancelled"}, whats(w.runs(), 1))
	})
}

// A task that returns opa.SnoozeTask runs again after the snooze and
// completes; the snooze spends no attempt and records no error.
func TestSnoozeTaskRunsAgainLater(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		ids := enqueue(t, jobs, "test.snooze", []int{1}, &river.InsertOpts{MaxAttempts: 1})
		w := startWorker(t, dbURL, "TP_PLUGINS=snooze")
		waitState(t, jobs, ids, "completed", 60*time.Second)
		w.stop(30 * time.Second)

		row, err := jobs.Job(context.Background(), ids[0])
		require.NoError(t, err)
		assert.Equal(t, 1, row.Attempt, "the snooze did not count as an attempt")
		assert.Empty(t, row.Errors)
		assert.JSONEq(t, "1", string(metadataField(t, row.Metadata, "snoozes")), "River counts the snooze")
		assert.Equal(t, []string{"snoozed", "ok"}, whats(w.runs(), 1))
	})
}

func metadataField(t *testing.T, metadata []byte, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(metadata, &m))
	return m[key]
}

// OPTS.periodic: the leader enqueues a task every interval, once for the
// whole fleet: two workers, both eligible to lead, run it once per period.
func TestPeriodicTaskOncePerInterval(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		periodicOncePerInterval(t, dbURL, "test.a", "default", "TP_PLUGINS=a", `TP_OPTS={"periodic": {"test.a": "2s"}}`)
	})
}

// periodicOncePerInterval starts two workers with env, waits for three
// periodic jobs of kind to complete, and checks that they were enqueued
// once per interval (2s), on queue, and each ran once.
func periodicOncePerInterval(t *testing.T, dbURL, kind, queue string, env ...string) {
	_, jobs := startHost(t, dbURL, nil)
	w1 := startWorker(t, dbURL, env...)
	w2 := startWorker(t, dbURL, env...)
	ctx := context.Background()
	completed := func() []*river.JobRow {
		res, err := jobs.List(ctx, river.NewJobListParams().Kinds(kind).States(rivertype.JobStateCompleted).First(1000))
		require.NoError(t, err)
		return res.Jobs
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(completed()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 periodic %s jobs completed after 90s: %d", kind, len(completed()))
		}
		// Completed jobs have no event outside the workers'
		// processes: poll, bounded by the deadline above.
		time.Sleep(200 * time.Millisecond)
	}
	w1.stop(30 * time.Second)
	w2.stop(30 * time.Second)

	all, err := jobs.List(ctx, river.NewJobListParams().Kinds(kind).First(1000))
	require.NoError(t, err)
	// Two enqueuers would insert pairs of jobs milliseconds apart; one
	// leader inserts them an interval apart (half of it, for jitter).
	created := make([]time.Time, 0, len(all.Jobs))
	for _, j := range all.Jobs {
		created = append(created, j.CreatedAt)
		assert.Equal(t, queue, j.Queue, "job %d", j.ID)
	}
	slices.SortFunc(created, time.Time.Compare)
	for i := 1; i < len(created); i++ {
		assert.GreaterOrEqual(t, created[i].Sub(created[i-1]), time.Second, "jobs %d and %d enqueued less than half an interval apart", i-1, i)
	}
	assert.Len(t, append(w1.runs(), w2.runs()...), len(completed()), "each periodic job ran once")
}
