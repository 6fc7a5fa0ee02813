package river_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	"github.com/opa-stack/opa-go/river/internal/testprog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// declared loads, in a host, the test plugins' tasks with their settings
// and a Run that does nothing: a host that enqueues them.
func declared(plugins ...string) opa.Option {
	var tasks []opa.Task
	for _, p := range plugins {
		tasks = append(tasks, testprog.Declare(p))
	}
	return opa.WithPlugin("declared", opa.Plugin{Tasks: tasks})
}

// A task's queue, priority, max attempts and uniqueness are the defaults
// of every Enqueue of its kind; the caller's InsertOpts win field by field.
// A worker that has the task works its queue, which OPTS.queues does not
// list.
func TestTaskSettingsAreEnqueueDefaults(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil, declared("queued", "unique"))
		ctx := context.Background()

		plain, err := jobs.Enqueue(ctx, "test.queued", testprog.Args{N: 1}, nil)
		require.NoError(t, err)
		assert.Equal(t, "slow", plain.Queue)
		assert.Equal(t, 3, plain.Priority)
		assert.Equal(t, 3, plain.MaxAttempts)

		own, err := jobs.Enqueue(ctx, "test.queued", testprog.Args{N: 2}, &river.InsertOpts{Priority: 1, MaxAttempts: 7})
		require.NoError(t, err)
		assert.Equal(t, "slow", own.Queue, "the task's queue, as the caller named none")
		assert.Equal(t, 1, own.Priority)
		assert.Equal(t, 7, own.MaxAttempts)

		onDefault, err := jobs.Enqueue(ctx, "test.queued", testprog.Args{N: 3}, &river.InsertOpts{Queue: "default"})
		require.NoError(t, err)
		assert.Equal(t, "default", onDefault.Queue)
		assert.Equal(t, 3, onDefault.Priority)

		// Typed args and a transaction get the same defaults.
		typed, err := jobs.EnqueueArgs(ctx, queuedArgs{N: 4}, nil)
		require.NoError(t, err)
		assert.Equal(t, []any{"slow", 3, 3}, []any{typed.Queue, typed.Priority, typed.MaxAttempts})
		tx, _, commit, _ := openAppDB(t, dbURL).begin(t)
		inTx, err := jobs.EnqueueTx(ctx, tx, "test.queued", testprog.Args{N: 5}, &river.InsertOpts{MaxAttempts: 9})
		require.NoError(t, err)
		require.NoError(t, commit())
		assert.Equal(t, []any{"slow", 3, 9}, []any{inTx.Queue, inTx.Priority, inTx.MaxAttempts})

		// Unique by args: a second job with the same args is the first.
		first, err := jobs.Enqueue(ctx, "test.unique", testprog.Args{N: 1}, nil)
		require.NoError(t, err)
		again, err := jobs.Enqueue(ctx, "test.unique", testprog.Args{N: 1}, nil)
		require.NoError(t, err)
		assert.Equal(t, first.ID, again.ID, "a duplicate stores no job")
		other, err := jobs.Enqueue(ctx, "test.unique", testprog.Args{N: 2}, nil)
		require.NoError(t, err)
		assert.NotEqual(t, first.ID, other.ID)
		// A caller that asks for other uniqueness gets it instead.
		byQueue, err := jobs.Enqueue(ctx, "test.unique", testprog.Args{N: 1}, &river.InsertOpts{Queue: "default", UniqueOpts: river.UniqueOpts{ByQueue: true, ByArgs: true}})
		require.NoError(t, err)
		assert.NotEqual(t, first.ID, byQueue.ID, "the caller's UniqueOpts replaced the task's")

		w := startWorker(t, dbURL, "TP_PLUGINS=queued,unique")
		w.waitLog(60*time.Second, "river: connected", `queues="map[default:10 slow:10]"`)
		waitState(t, jobs, []int64{plain.ID, own.ID, onDefault.ID, typed.ID, inTx.ID, first.ID, other.ID, byQueue.ID}, "completed", 60*time.Second)
		w.stop(30 * time.Second)
		byKind := map[string]int{}
		for _, r := range w.runs() {
			byKind[r.kind]++
		}
		assert.Equal(t, map[string]int{"test.queued": 5, "test.unique": 3}, byKind, "each stored job ran once; the duplicate was never stored")
	})
}

// A task's timeout becomes its River worker's: its context ends with
// DeadlineExceeded though OPTS.job_timeout is 10m, and the job records the
// task's error.
func TestTaskTimeoutEndsItsContext(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil, declared("timeout"))
		ctx := context.Background()
		row, err := jobs.Enqueue(ctx, "test.timeout", testprog.Args{N: 1}, nil)
		require.NoError(t, err)
		assert.Equal(t, 1, row.MaxAttempts)

		w := startWorker(t, dbURL, "TP_PLUGINS=timeout", `TP_OPTS={"job_timeout": "10m"}`)
		waitState(t, jobs, []int64{row.ID}, "discarded", 60*time.Second)
		w.stop(30 * time.Second)

		row, err = jobs.Job(ctx, row.ID)
		require.NoError(t, err)
		require.Len(t, row.Errors, 1)
		assert.Contains(t, row.Errors[0].Error, "timeout 1: context deadline exceeded")
		assert.Equal(t, []string{"started", "deadline"}, whats(w.runs(), 1))
	})
}

// A task declared with TaskEvery is a periodic job: the leader enqueues it
// once per interval for the whole fleet, on the task's queue.
func TestPeriodicTaskDeclaredWithEvery(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		periodicOncePerInterval(t, dbURL, "test.every", "ticks", "TP_PLUGINS=every")
	})
}

// A periodic task declared with TaskSchedule (a cron library's Next fits)
// runs once at each time of its schedule across two workers, on its queue.
func TestPeriodicTaskDeclaredWithSchedule(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		periodicOncePerInterval(t, dbURL, "test.scheduled", "ticks", "TP_PLUGINS=scheduled")
	})
}

// Settings River cannot honour fail Connect, naming the task and plugin.
func TestTaskSettingsRiverRefuses(t *testing.T) {
	noop := func(context.Context, struct{}) error { return nil }
	m, err := newHost(filepath.Join(t.TempDir(), "jobs.db"), nil, opa.WithPlugin("notes",
		opa.Plugin{Tasks: []opa.Task{opa.NewTask("notes.count", noop).With(opa.TaskPriority(5))}}))
	require.NoError(t, err)
	err = m.StartupSimple(context.Background())
	assert.ErrorContains(t, err, "river: task notes.count (plugin notes): priority 5 is out of River's range: 1 (runs first) to 4 (runs last)")
	_ = m.Shutdown(context.Background())
}

// queuedArgs are typed args of the queued test task.
type queuedArgs testprog.Args

func (queuedArgs) Kind() string { return "test.queued" }
