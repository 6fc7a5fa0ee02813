package opa_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opa-stack/opa-go"
)

// exampleReindexArgs are a task's args; Validate is called on them before the task.
type exampleReindexArgs struct {
	Note int `json:"note"`
}

func (a exampleReindexArgs) Validate() error {
	if a.Note <= 0 {
		return errors.New("note must be positive")
	}
	return nil
}

// A plugin declares a task with its settings; a queue driver (such as the
// River driver) runs Manager.Tasks and maps the settings to its engine.
// Here the tasks are run by hand, as a worker would.
func ExampleNewTask() {
	reindex := opa.NewTask("notes.reindex", func(ctx context.Context, a exampleReindexArgs) error {
		fmt.Println("reindexing note", a.Note)
		return nil
	}).With(opa.TaskQueue("slow"), opa.TaskMaxAttempts(3), opa.TaskTimeout(30*time.Second))

	m, err := opa.New(opa.WithConfig(exampleConfig), exampleQuiet,
		opa.WithPlugin("notes", opa.Plugin{Tasks: []opa.Task{reindex}}))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.StartupSimple(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = m.Shutdown(context.Background()) }()

	for _, t := range m.Tasks() {
		fmt.Println(t.Kind, "queue:", t.Settings.Queue, "attempts:", t.Settings.MaxAttempts, "plugin:", m.TaskPlugin(t.Kind))
		fmt.Println(t.Run(context.Background(), json.RawMessage(`{"note": 7}`)))
		err := t.Run(context.Background(), json.RawMessage(`{"note": 0}`))
		fmt.Println(errors.Is(err, opa.ErrTaskArgs), err)
		err = t.Run(context.Background(), json.RawMessage(`{"nots": 7}`))
		fmt.Println(errors.Is(err, opa.ErrTaskArgs), err)
	}
	// Output:
	// notes.reindex queue: slow attempts: 3 plugin: notes
	// reindexing note 7
	// <nil>
	// true opa: task notes.reindex: invalid args (opa_test.exampleReindexArgs): note must be positive
	// true opa: task notes.reindex: args do not decode into opa_test.exampleReindexArgs: json: unknown field "nots"
}
