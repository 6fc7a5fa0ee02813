package river

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noopTask(kind string, opts ...opa.TaskOption) opa.Task {
	return opa.NewTask(kind, func(context.Context, struct{}) error { return nil }).With(opts...)
}

func pluginOf(kind string) string { return "plug-" + kind }

// The tasks' queues join OPTS.queues at OPTS.workers concurrency (a queue
// OPTS.queues lists keeps its own); Every and OPTS.periodic merge, OPTS
// winning for one kind.
func TestPlanTasks(t *testing.T) {
	set, err := parseOptions(map[string]any{"url": "jobs.db", "workers": 3, "queues": map[string]any{"default": 5, "mail": 2},
		"periodic": map[string]any{"t.b": "1h", "t.opts": "2h"}})
	require.NoError(t, err)
	plan, err := planTasks(set, []opa.Task{
		noopTask("t.a", opa.TaskQueue("slow"), opa.TaskPriority(2)),
		noopTask("t.b", opa.TaskQueue("mail"), opa.TaskEvery(time.Minute)),
		noopTask("t.c", opa.TaskEvery(10*time.Second)),
		noopTask("t.d"),
	}, pluginOf)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"default": 5, "mail": 2, "slow": 3}, plan.queues)
	assert.Equal(t, map[string]int{"default": 5, "mail": 2}, set.queues, "OPTS are not changed")
	assert.Equal(t, []periodicTask{{kind: "t.b", every: time.Hour}, {kind: "t.c", every: 10 * time.Second}, {kind: "t.opts", every: 2 * time.Hour}}, plan.periodic)
	assert.Equal(t, 2, plan.settings["t.a"].Priority)
	assert.Len(t, plan.settings, 4)
}

// Settings River cannot honour are an error naming the task and its plugin.
func TestPlanTasksRefusesWhatRiverCannotDo(t *testing.T) {
	set, err := parseOptions(map[string]any{"url": "jobs.db", "rescue_after": "10m"})
	require.NoError(t, err)
	for _, tc := range []struct {
		opt  opa.TaskOption
		want string
	}{
		{opa.TaskPriority(5), "priority 5 is out of River's range: 1 (runs first) to 4 (runs last)"},
		{opa.TaskQueue("Slow Jobs"), `queue "Slow Jobs" is not a River queue name`},
		{opa.TaskTimeout(10 * time.Minute), "timeout 10m0s is not shorter than OPTS.rescue_after (10m0s)"},
		{opa.TaskUniqueByArgs(time.Millisecond), "unique period 1ms is shorter than River's minimum, 1s"},
		{opa.TaskEvery(time.Millisecond), "every 1ms is shorter than 1s"},
	} {
		_, err := planTasks(set, []opa.Task{noopTask("t.ok", opa.TaskPriority(4)), noopTask("t.bad", tc.opt)}, pluginOf)
		assert.ErrorContains(t, err, "river: task t.bad (plugin plug-t.bad): "+tc.want)
	}
}

// withDefaults: field by field, the caller's opts, then the args' own
// InsertOpts, then the task's settings, then OPTS.queue.
func TestInsertOptsMerge(t *testing.T) {
	set, err := parseOptions(map[string]any{"url": "jobs.db", "queues": "default,slow,own"})
	require.NoError(t, err)
	plan, err := planTasks(set, []opa.Task{noopTask("t.a", opa.TaskQueue("slow"), opa.TaskPriority(3), opa.TaskMaxAttempts(4), opa.TaskUniqueByArgs(time.Hour)),
		noopTask(ownArgs{}.Kind(), opa.TaskQueue("slow"), opa.TaskPriority(3), opa.TaskMaxAttempts(4))}, pluginOf)
	require.NoError(t, err)
	j := &Jobs{set: set, tasks: plan.settings, queues: plan.queues}
	a := taskArgs{kind: "t.a"}

	got := j.withDefaults(a, nil)
	assert.Equal(t, &rq.InsertOpts{Queue: "slow", Priority: 3, MaxAttempts: 4, UniqueOpts: rq.UniqueOpts{ByArgs: true, ByPeriod: time.Hour}}, got)

	caller := &rq.InsertOpts{Priority: 1, UniqueOpts: rq.UniqueOpts{ByQueue: true}, Tags: []string{"x"}}
	got = j.withDefaults(a, caller)
	assert.Equal(t, &rq.InsertOpts{Queue: "slow", Priority: 1, MaxAttempts: 4, UniqueOpts: rq.UniqueOpts{ByQueue: true}, Tags: []string{"x"}}, got)
	assert.Equal(t, &rq.InsertOpts{Priority: 1, UniqueOpts: rq.UniqueOpts{ByQueue: true}, Tags: []string{"x"}}, caller, "the caller's opts are not changed")

	got = j.withDefaults(ownArgs{}, nil)
	assert.Equal(t, &rq.InsertOpts{Queue: "own", Priority: 3, MaxAttempts: 2}, got, "the args' own InsertOpts come before the task's settings")

	got = j.withDefaults(taskArgs{kind: "t.unknown"}, nil)
	assert.Equal(t, &rq.InsertOpts{Queue: "default"}, got, "a kind without a loaded task gets the OPTS")

	_, err = j.insertOpts(a, &rq.InsertOpts{Queue: "mail"})
	assert.ErrorContains(t, err, `river: enqueue t.a: queue "mail" is not worked: this configuration works default, own, slow`)
}

type ownArgs struct{}

func (ownArgs) Kind() string              { return "t.own" }
func (ownArgs) InsertOpts() rq.InsertOpts { return rq.InsertOpts{Queue: "own", MaxAttempts: 2} }

// A task's Schedule is planned as a scheduled periodic job, unless
// OPTS.periodic names its kind (an interval, which wins). A Schedule that
// does not move forward stops instead of enqueueing in a loop.
func TestPlanTasksSchedule(t *testing.T) {
	set, err := parseOptions(map[string]any{"url": "jobs.db", "periodic": map[string]any{"t.opts": "1h"}})
	require.NoError(t, err)
	hourly := func(t time.Time) time.Time { return t.Truncate(time.Hour).Add(time.Hour) }
	plan, err := planTasks(set, []opa.Task{
		noopTask("t.cron", opa.TaskSchedule(hourly)),
		noopTask("t.opts", opa.TaskSchedule(hourly)),
	}, pluginOf)
	require.NoError(t, err)
	require.Len(t, plan.periodic, 2)
	assert.Equal(t, "t.cron", plan.periodic[0].kind)
	assert.Zero(t, plan.periodic[0].every)
	require.NotNil(t, plan.periodic[0].schedule)
	at := time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)
	assert.Equal(t, at.Truncate(time.Hour).Add(time.Hour), plan.periodic[0].schedule(at))
	assert.Equal(t, periodicTask{kind: "t.opts", every: time.Hour}, plan.periodic[1])

	var logged strings.Builder
	stuck := &schedule{kind: "t.stuck", next: func(t time.Time) time.Time { return t }, log: slog.New(slog.NewTextHandler(&logged, nil))}
	assert.True(t, stuck.Next(at).IsZero(), "a schedule that does not move forward is never run again")
	assert.Contains(t, logged.String(), "level=ERROR")
	assert.Contains(t, logged.String(), "kind=t.stuck")
	moving := &schedule{kind: "t.cron", next: hourly, log: slog.Default()}
	assert.Equal(t, at.Truncate(time.Hour).Add(time.Hour), moving.Next(at))
}

// OPTS that River would refuse later, in a worker (a periodic job's ID: a
// panic; a period under 1s; a queue name: every Enqueue failing) are
// errors at New or Connect that name the setting.
func TestOptionsRiverWouldRefuse(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{"queue": "Mail"}, `river: OPTS.queue: queue "Mail" is not a River queue name`},
		{map[string]any{"queues": "default,Slow Jobs"}, `river: OPTS.queues: queue "Slow Jobs" is not a River queue name`},
		{map[string]any{"queues": map[string]any{"default": 1, "a.b": 2}}, `river: OPTS.queues: queue "a.b" is not a River queue name`},
	} {
		tc.opts["url"] = "jobs.db"
		_, err := parseOptions(tc.opts)
		assert.ErrorContains(t, err, tc.want)
	}

	for _, tc := range []struct {
		periodic map[string]any
		want     string
	}{
		{map[string]any{"notes reindex": "1h"}, `river: OPTS.periodic notes reindex: the kind cannot name a River periodic job ("opa:notes reindex")`},
		{map[string]any{strings.Repeat("k", 130): "1h"}, "the kind cannot name a River periodic job"},
		{map[string]any{"notes.fast": "500ms"}, "river: OPTS.periodic notes.fast: every 500ms is shorter than 1s, the shortest period River runs"},
	} {
		set, err := parseOptions(map[string]any{"url": "jobs.db", "periodic": tc.periodic})
		require.NoError(t, err)
		_, err = planTasks(set, nil, pluginOf)
		assert.ErrorContains(t, err, tc.want)
	}
	set, err := parseOptions(map[string]any{"url": "jobs.db", "periodic": map[string]any{"notes.reindex": "1h"}})
	require.NoError(t, err)
	_, err = planTasks(set, nil, pluginOf)
	assert.NoError(t, err, "a kind with dots is a River ID")
}
