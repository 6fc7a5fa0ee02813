package opa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"
)

// A Task is a background job kind a plugin can run, independent of any queue
// engine: an engine stores the kind and JSON args, and a worker calls Run.
// Settings (queue, priority, attempts, timeout, uniqueness, a period) are
// declared with it through With; their zero value is the queue's defaults.
type Task struct {
	Kind     string // unique across plugins, e.g. "notes.reindex"
	Run      func(ctx context.Context, args json.RawMessage) error
	Settings TaskSettings // how a queue runs its jobs; see With
}

// NewTask makes a Task whose Run decodes the JSON args into A and calls fn.
// The args are decoded strictly: a field A does not have, or data after the
// JSON value, is an error, as is a value of the wrong type. If A (or *A) has
// a Validate() error method, it is called on the decoded args. A decode or
// validation failure is an error naming the kind and A that wraps
// ErrTaskArgs: retrying the job cannot help.
func NewTask[A any](kind string, fn func(ctx context.Context, args A) error) Task {
	return Task{Kind: kind, Run: func(ctx context.Context, raw json.RawMessage) error {
		var a A
		if len(raw) > 0 {
			if err := decodeStrict(raw, &a); err != nil {
				return &taskArgsError{msg: fmt.Sprintf("opa: task %s: args do not decode into %T: %v", kind, a, err), err: err}
			}
		}
		if err := validateArgs(&a); err != nil {
			return &taskArgsError{msg: fmt.Sprintf("opa: task %s: invalid args (%T): %v", kind, a, err), err: err}
		}
		return fn(ctx, a)
	}}
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// anything after the value.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// validateArgs calls the Validate method of *p or of p, if there is one
// (not that of a nil pointer: args of a pointer type given no JSON).
func validateArgs[A any](p *A) error {
	if v, ok := any(*p).(interface{ Validate() error }); ok {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil
		}
		return v.Validate()
	}
	if v, ok := any(p).(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// taskArgsError is a task's args failing to decode or validate: it wraps
// both ErrTaskArgs and the cause.
type taskArgsError struct {
	msg string
	err error
}

func (e *taskArgsError) Error() string   { return e.msg }
func (e *taskArgsError) Unwrap() []error { return []error{ErrTaskArgs, e.err} }

// RedactTaskError returns err with the secrets it may repeat hidden, as
// opa hides them in its own errors and logs: those of the components' OPTS,
// and those of args, a task's JSON args (the values under secret-looking
// keys such as api_token, and the passwords of connection strings), at any
// length (see the package doc, "Secrets and the report"). errors.Is and
// errors.As see the original. A job driver calls it on what a task's Run
// returns, before the error is logged or stored with the job.
func (m *Manager) RedactTaskError(err error, args json.RawMessage) error {
	if err == nil {
		return nil
	}
	var v any
	if json.Unmarshal(args, &v) != nil {
		v = nil
	}
	return m.red.with(v).wrap(err)
}

// CancelTask returns an error that, returned from a task's Run, gives the
// job up now: it is not retried, whatever attempts are left. err is the
// reason, recorded with the job; errors.Is(CancelTask(err), err) holds.
func CancelTask(err error) error {
	return &TaskCancelError{Err: err}
}

// TaskCancelError is the error CancelTask returns: a job given up at once.
type TaskCancelError struct {
	Err error // the reason
}

// Error says the task was cancelled, and why.
func (e *TaskCancelError) Error() string {
	if e.Err == nil {
		return "opa: task cancelled"
	}
	return "opa: task cancelled: " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *TaskCancelError) Unwrap() error { return e.Err }

// SnoozeTask returns an error that, returned from a task's Run, has the job
// run again after d without spending one of its attempts. A negative d is
// taken as 0.
func SnoozeTask(d time.Duration) error {
	return &TaskSnoozeError{After: max(d, 0)}
}

// TaskSnoozeError is the error SnoozeTask returns: a job to run again later.
type TaskSnoozeError struct {
	After time.Duration // how long to wait before the next run
}

// Error says how long the task is snoozed for.
func (e *TaskSnoozeError) Error() string { return "opa: task snoozed for " + e.After.String() }

// Unwrap returns nil: a snooze has no cause.
func (e *TaskSnoozeError) Unwrap() error { return nil }

// Tasks returns every task of every loaded plugin, in plugin order. It
// answers from the moment the plugins are registered, so a component's
// Connect (a job queue's driver) can register them as workers; nil before.
func (m *Manager) Tasks() []Task {
	plugins := m.loaded.Load()
	if plugins == nil {
		return nil
	}
	var out []Task
	for _, lp := range *plugins {
		out = append(out, lp.plugin.Tasks...)
	}
	return out
}

// TaskCandidates returns the names of the loaded plugins that declare tasks.
func (m *Manager) TaskCandidates() []string {
	plugins := m.loaded.Load()
	if plugins == nil {
		return nil
	}
	var out []string
	for _, lp := range *plugins {
		if len(lp.plugin.Tasks) > 0 {
			out = append(out, lp.name)
		}
	}
	return out
}

// TaskPlugin returns the name of the loaded plugin that declares the task
// kind, or "" if none does: a driver names it in an error about the task.
func (m *Manager) TaskPlugin(kind string) string {
	plugins := m.loaded.Load()
	if plugins == nil {
		return ""
	}
	for _, lp := range *plugins {
		for _, t := range lp.plugin.Tasks {
			if t.Kind == kind {
				return lp.name
			}
		}
	}
	return ""
}

// checkTasks refuses two loaded plugins declaring one task kind, and a task
// whose settings are wrong whatever the engine (a negative value, an empty
// queue name).
func checkTasks(plugins []*loaded) error {
	owner := map[string]string{}
	var errs []error
	for _, lp := range plugins {
		for _, t := range lp.plugin.Tasks {
			perr := func(format string, args ...any) {
				errs = append(errs, &PluginError{Plugin: lp.name, Path: lp.match, Step: "tasks", Err: fmt.Errorf(format, args...)})
			}
			switch prev, dup := owner[t.Kind]; {
			case t.Kind == "":
				perr("a task has no Kind")
			case t.Run == nil:
				perr("task %q has no Run func", t.Kind)
			case dup:
				perr("task kind %q is already declared by plugin %s", t.Kind, prev)
			default:
				owner[t.Kind] = lp.name
				if err := t.Settings.check(); err != nil {
					perr("task %q: settings: %w", t.Kind, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}
