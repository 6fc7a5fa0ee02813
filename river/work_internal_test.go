package river

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leader: auto takes part unless the worker is declared partial; yes and
// no decide alone.
func TestLeaderDecision(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    opa.Options
		leads   bool
		because string
	}{
		{name: "auto", opts: opa.Options{}, leads: true, because: "OPTS.partial is false"},
		{name: "auto, partial", opts: opa.Options{"partial": true}, leads: false, because: "OPTS.partial is true"},
		{name: "yes, partial", opts: opa.Options{"leader": "yes", "partial": true}, leads: true, because: "OPTS.leader is yes"},
		{name: "no", opts: opa.Options{"leader": "no"}, leads: false, because: "OPTS.leader is no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts["url"] = "jobs.db"
			set, err := parseOptions(tc.opts)
			require.NoError(t, err)
			leads, why := (&Jobs{set: set}).leaderDecision()
			assert.Equal(t, tc.leads, leads)
			assert.Contains(t, why, tc.because)
		})
	}
}

// An interval's runs fall on the clock's multiples of it, the buckets of
// River's unique periods, whenever the leader asks.
func TestAlignedSchedule(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	for _, tc := range []struct {
		at, want time.Time
		every    time.Duration
	}{
		{at: base, every: 10 * time.Second, want: base.Add(10 * time.Second)},
		{at: base.Add(4300 * time.Millisecond), every: 10 * time.Second, want: base.Add(10 * time.Second)},
		{at: base.Add(9999 * time.Millisecond), every: 10 * time.Second, want: base.Add(10 * time.Second)},
		{at: base.Add(55 * time.Minute), every: time.Hour, want: time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)},
	} {
		got := aligned(tc.every).Next(tc.at)
		assert.Equal(t, tc.want, got, "Next(%s) every %s", tc.at, tc.every)
		assert.Equal(t, got.Truncate(tc.every), got, "a run starts its own bucket")
	}
}

// Errors River records start with the plugin and the kind; cancel and
// snooze stay River's, and a context's error is still one (River's soft
// stop puts such a job back).
func TestOutcomeNamesPluginAndKind(t *testing.T) {
	err := outcome("notes", "notes.reindex", 7, context.Canceled)
	assert.EqualError(t, err, "plugin notes, task notes.reindex: context canceled")
	assert.ErrorIs(t, err, context.Canceled)

	err = outcome("notes", "notes.reindex", 7, opa.CancelTask(errors.New("gone")))
	var cancel *rivertype.JobCancelError
	require.ErrorAs(t, err, &cancel)
	assert.Contains(t, err.Error(), "plugin notes, task notes.reindex: job 7 cancelled by its task")

	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, outcome("notes", "notes.reindex", 7, opa.SnoozeTask(time.Second)), &snooze)
	assert.Nil(t, outcome("notes", "notes.reindex", 7, nil))
}

// A job that a stopping Work's client fetched is put back unrun: a snooze
// of 0, which spends no attempt.
func TestStoppingWorkerPutsFetchedJobsBack(t *testing.T) {
	ran := false
	task := opa.NewTask("test.a", func(context.Context, struct{}) error { ran = true; return nil })
	var stopping atomic.Bool
	w := &taskWorker{task: task, plugin: "a", stopping: &stopping}
	job := &rq.Job[taskArgs]{JobRow: &rivertype.JobRow{ID: 1, Kind: "test.a"}, Args: taskArgs{raw: []byte("{}")}}

	stopping.Store(true)
	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, w.Work(context.Background(), job), &snooze)
	assert.Zero(t, snooze.Duration)
	assert.False(t, ran, "the task did not run")

	stopping.Store(false)
	require.NoError(t, w.Work(context.Background(), job))
	assert.True(t, ran)
}

// A panic River records names the plugin and the kind.
func TestPanicNamesPluginAndKind(t *testing.T) {
	task := opa.NewTask("test.a", func(context.Context, struct{}) error { panic("boom") })
	w := &taskWorker{task: task, plugin: "a"}
	job := &rq.Job[taskArgs]{JobRow: &rivertype.JobRow{ID: 1, Kind: "test.a"}, Args: taskArgs{raw: []byte("{}")}}
	assert.PanicsWithValue(t, "plugin a, task test.a: panic: boom", func() { _ = w.Work(context.Background(), job) })
}
