package opa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// A Task is a background job kind a plugin can run, independent of any queue
// engine: an engine stores the kind and JSON args, and a worker calls Run.
type Task struct {
	Kind string // unique across plugins, e.g. "notes.reindex"
	Run  func(ctx context.Context, args json.RawMessage) error
}

// NewTask makes a Task whose Run decodes the JSON args into A and calls fn.
// Args that do not decode into A give an error naming the kind and A.
func NewTask[A any](kind string, fn func(ctx context.Context, args A) error) Task {
	return Task{Kind: kind, Run: func(ctx context.Context, raw json.RawMessage) error {
		var a A
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return fmt.Errorf("opa: task %s: args do not decode into %T: %w", kind, a, err)
			}
		}
		return fn(ctx, a)
	}}
}

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

// checkTasks refuses two loaded plugins declaring one task kind.
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
			}
		}
	}
	return errors.Join(errs...)
}
