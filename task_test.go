package opa_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type reindexArgs struct {
	Note int `json:"note"`
}

func TestNewTaskDecodesArgs(t *testing.T) {
	var got reindexArgs
	task := opa.NewTask("notes.reindex", func(_ context.Context, a reindexArgs) error { got = a; return nil })
	assert.Equal(t, "notes.reindex", task.Kind)
	require.NoError(t, task.Run(context.Background(), json.RawMessage(`{"note": 7}`)))
	assert.Equal(t, reindexArgs{Note: 7}, got)

	err := task.Run(context.Background(), json.RawMessage(`{"note": "seven"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "opa: task notes.reindex: args do not decode into opa_test.reindexArgs")
	assert.ErrorIs(t, err, opa.ErrTaskArgs)
}

// Args are decoded strictly: a misnamed field or trailing data is ErrTaskArgs,
// and fn is not called.
func TestNewTaskDecodesStrictly(t *testing.T) {
	called := false
	task := opa.NewTask("notes.reindex", func(_ context.Context, a reindexArgs) error { called = true; return nil })
	for _, raw := range []string{`{"nte": 7}`, `{"note": 7} {"note": 8}`, `{"note": 7}]`, `[1]`} {
		err := task.Run(context.Background(), json.RawMessage(raw))
		require.Error(t, err, raw)
		assert.ErrorIs(t, err, opa.ErrTaskArgs, raw)
		assert.Contains(t, err.Error(), "opa: task notes.reindex: args do not decode into opa_test.reindexArgs", raw)
	}
	err := task.Run(context.Background(), json.RawMessage(`{"nte": 7}`))
	assert.ErrorContains(t, err, `unknown field "nte"`)
	assert.False(t, called)

	require.NoError(t, task.Run(context.Background(), json.RawMessage(" {\"note\": 7}\n")))
	assert.True(t, called)
}

type checkedArgs struct {
	Note int `json:"note"`
}

var errNoNote = errors.New("note must be positive")

func (a checkedArgs) Validate() error {
	if a.Note <= 0 {
		return errNoNote
	}
	return nil
}

type ptrCheckedArgs struct {
	Note int `json:"note"`
}

func (a *ptrCheckedArgs) Validate() error {
	if a.Note <= 0 {
		return errNoNote
	}
	return nil
}

// Validate, on A or on *A, is called after decoding; its failure is
// ErrTaskArgs wrapping its error, and fn is not called.
func TestNewTaskValidatesArgs(t *testing.T) {
	runs := 0
	byValue := opa.NewTask("v", func(_ context.Context, a checkedArgs) error { runs++; return nil })
	byPtr := opa.NewTask("p", func(_ context.Context, a ptrCheckedArgs) error { runs++; return nil })
	pointer := opa.NewTask("pp", func(_ context.Context, a *ptrCheckedArgs) error { runs++; return nil })
	for _, task := range []opa.Task{byValue, byPtr, pointer} {
		err := task.Run(context.Background(), json.RawMessage(`{"note": 0}`))
		require.Error(t, err, task.Kind)
		assert.ErrorIs(t, err, opa.ErrTaskArgs, task.Kind)
		assert.ErrorIs(t, err, errNoNote, task.Kind)
		assert.Contains(t, err.Error(), "opa: task "+task.Kind+": invalid args", task.Kind)
		require.NoError(t, task.Run(context.Background(), json.RawMessage(`{"note": 3}`)), task.Kind)
	}
	assert.Equal(t, 3, runs)
	// No args: the zero value is validated too (a nil pointer is not).
	assert.ErrorIs(t, byValue.Run(context.Background(), nil), opa.ErrTaskArgs)
	require.NoError(t, pointer.Run(context.Background(), nil))

	// A task's own error is not ErrTaskArgs.
	own := opa.NewTask("own", func(context.Context, checkedArgs) error { return errors.New("boom") })
	err := own.Run(context.Background(), json.RawMessage(`{"note": 1}`))
	assert.EqualError(t, err, "boom")
	assert.NotErrorIs(t, err, opa.ErrTaskArgs)
}

func TestCancelAndSnoozeTask(t *testing.T) {
	reason := errors.New("the note is gone")
	err := fmt.Errorf("reindex: %w", opa.CancelTask(reason))
	assert.ErrorIs(t, err, reason)
	assert.NotErrorIs(t, err, opa.ErrTaskArgs)
	cancel, ok := errors.AsType[*opa.TaskCancelError](err)
	require.True(t, ok)
	assert.Equal(t, reason, cancel.Err)
	assert.EqualError(t, cancel, "opa: task cancelled: the note is gone")

	err = fmt.Errorf("reindex: %w", opa.SnoozeTask(3*time.Second))
	snooze, ok := errors.AsType[*opa.TaskSnoozeError](err)
	require.True(t, ok)
	assert.Equal(t, 3*time.Second, snooze.After)
	assert.EqualError(t, snooze, "opa: task snoozed for 3s")
	_, ok = errors.AsType[*opa.TaskCancelError](err)
	assert.False(t, ok)
	snooze, _ = errors.AsType[*opa.TaskSnoozeError](opa.SnoozeTask(-time.Second))
	assert.Zero(t, snooze.After)
}

// binder is a component that records what the Manager told it when bound.
type binder struct{ kinds []string }

func (b *binder) BindManager(m *opa.Manager) {
	for _, t := range m.Tasks() {
		b.kinds = append(b.kinds, t.Kind)
	}
}
func (b *binder) Connect(context.Context) error { return nil }
func (b *binder) Instance() any                 { return b }

func TestTasksAreKnownWhenComponentsConnect(t *testing.T) {
	noop := func(context.Context, struct{}) error { return nil }
	b := &binder{}
	m, err := startMgr(t, opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"queue": {Driver: "queue"}}}, nil,
		opa.WithPlugin("a", opa.Plugin{Tasks: []opa.Task{opa.NewTask("a.one", noop), opa.NewTask("a.two", noop)}}),
		opa.WithPlugin("b", opa.Plugin{}),
		opa.WithPlugin("c", opa.Plugin{Tasks: []opa.Task{opa.NewTask("c.one", noop)},
			Drivers: []opa.Driver{{Name: "queue", New: func(opa.Options) (opa.Component, error) { return b, nil }}}}))
	require.NoError(t, err)
	assert.Equal(t, []string{"a.one", "a.two", "c.one"}, b.kinds, "BindManager sees every task before Connect")
	assert.Equal(t, []string{"a", "c"}, m.TaskCandidates())
	assert.Len(t, m.Tasks(), 3)
	assert.Equal(t, []string{"a.one", "a.two"}, reportOf(t, m, "a").Tasks)

	_, err = startMgr(t, opa.Config{}, nil,
		opa.WithPlugin("a", opa.Plugin{Tasks: []opa.Task{opa.NewTask("k", noop)}}),
		opa.WithPlugin("b", opa.Plugin{Tasks: []opa.Task{opa.NewTask("k", noop)}}))
	assert.ErrorContains(t, err, `opa: plugin b (`)
	assert.ErrorContains(t, err, `tasks: task kind "k" is already declared by plugin a`)
}

// With applies the options to a copy of the task, in order (a later option
// wins); the task it was called on keeps its settings.
func TestTaskWithSettings(t *testing.T) {
	noop := func(context.Context, struct{}) error { return nil }
	plain := opa.NewTask("notes.count", noop)
	assert.Zero(t, plain.Settings, "NewTask declares no settings: the queue's defaults")

	task := plain.With(opa.TaskQueue("slow"), opa.TaskPriority(2), opa.TaskMaxAttempts(3), opa.TaskTimeout(time.Minute),
		opa.TaskUniqueByArgs(time.Hour), opa.TaskEvery(24*time.Hour), opa.TaskMaxAttempts(5))
	assert.Equal(t, "notes.count", task.Kind)
	require.NotNil(t, task.Run)
	assert.Equal(t, opa.TaskSettings{Queue: "slow", Priority: 2, MaxAttempts: 5, Timeout: time.Minute,
		Unique: &opa.TaskUnique{ByArgs: true, Period: time.Hour}, Every: 24 * time.Hour}, task.Settings)
	assert.Zero(t, plain.Settings, "With changed a copy")

	// A copy's Unique is its own.
	other := task.With(opa.TaskPriority(4))
	other.Settings.Unique.Period = time.Minute
	assert.Equal(t, time.Hour, task.Settings.Unique.Period)
	assert.Equal(t, 2, task.Settings.Priority)

	// Settings set as a struct work the same.
	direct := opa.Task{Kind: "k", Run: plain.Run, Settings: opa.TaskSettings{Unique: &opa.TaskUnique{Period: time.Hour}}}
	_, err := startMgr(t, opa.Config{}, nil, opa.WithPlugin("p", opa.Plugin{Tasks: []opa.Task{direct, task}}))
	require.NoError(t, err)
}

// Settings that are wrong whatever the engine are a registration error at
// Startup naming the plugin and the task; with PLUGIN_ON_ERROR=skip the
// plugin is left out and the others load.
func TestTaskSettingsAreCheckedAtStartup(t *testing.T) {
	noop := opa.NewTask("p.job", func(context.Context, struct{}) error { return nil })
	for _, tc := range []struct {
		name string
		task opa.Task
		want string
	}{
		{"empty queue", noop.With(opa.TaskQueue("")), "TaskQueue: the queue name is empty"},
		{"blank queue", noop.With(opa.TaskQueue("  ")), "TaskQueue: the queue name is empty"},
		{"spaces", opa.Task{Kind: "p.job", Run: noop.Run, Settings: opa.TaskSettings{Queue: " slow"}}, `queue " slow" has spaces around it`},
		{"priority", noop.With(opa.TaskPriority(-1)), "priority -1 is negative (0 is the default)"},
		{"attempts", noop.With(opa.TaskMaxAttempts(-2)), "max attempts -2 is negative"},
		{"timeout", noop.With(opa.TaskTimeout(-time.Second)), "timeout -1s is negative"},
		{"every", noop.With(opa.TaskEvery(-time.Minute)), "every -1m0s is negative"},
		{"unique period", noop.With(opa.TaskUniqueByArgs(-time.Hour)), "unique period -1h0m0s is negative"},
		{"empty unique", opa.Task{Kind: "p.job", Run: noop.Run, Settings: opa.TaskSettings{Unique: &opa.TaskUnique{}}}, "Unique sets neither ByArgs nor a Period"},
		{"every and schedule", noop.With(opa.TaskEvery(time.Minute), opa.TaskSchedule(func(t time.Time) time.Time { return t.Add(time.Hour) })), "both Every (1m0s) and a Schedule are set: set one"},
		{"two at once", noop.With(opa.TaskQueue(""), opa.TaskPriority(-1)), "TaskQueue: the queue name is empty (leave the option out for the default queue); priority -1 is negative (0 is the default)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := opa.NewTask("q.job", func(context.Context, struct{}) error { return nil }).With(opa.TaskQueue("slow"))
			_, err := startMgr(t, opa.Config{}, nil,
				opa.WithPlugin("q", opa.Plugin{Tasks: []opa.Task{good}}), opa.WithPlugin("p", opa.Plugin{Tasks: []opa.Task{tc.task}}))
			require.Error(t, err)
			assert.ErrorContains(t, err, `opa: plugin p (`)
			assert.ErrorContains(t, err, `tasks: task "p.job": settings: `+tc.want)
			assert.NotContains(t, err.Error(), "plugin q")

			m, err := startMgr(t, opa.Config{OnError: "skip"}, nil,
				opa.WithPlugin("q", opa.Plugin{Tasks: []opa.Task{good}}), opa.WithPlugin("p", opa.Plugin{Tasks: []opa.Task{tc.task}}))
			require.NoError(t, err)
			assert.False(t, reportOf(t, m, "p").Loaded)
			assert.Contains(t, reportOf(t, m, "p").Reason, tc.want)
			assert.Equal(t, []string{"q"}, m.TaskCandidates())
			assert.Equal(t, "q", m.TaskPlugin("q.job"))
			assert.Empty(t, m.TaskPlugin("p.job"))
		})
	}
}

// A later option wins over an earlier one, also over one that was refused:
// TaskQueue("") then TaskQueue("slow") loads, on queue slow.
func TestTaskOptionLaterWins(t *testing.T) {
	task := opa.NewTask("p.job", func(context.Context, struct{}) error { return nil }).
		With(opa.TaskQueue("")).With(opa.TaskQueue("slow"))
	m, err := startMgr(t, opa.Config{}, nil, opa.WithPlugin("p", opa.Plugin{Tasks: []opa.Task{task}}))
	require.NoError(t, err)
	tasks := m.Tasks()
	require.Len(t, tasks, 1)
	assert.Equal(t, "slow", tasks[0].Settings.Queue)
}
