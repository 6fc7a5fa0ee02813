package opa_test

import (
	"context"
	"encoding/json"
	"testing"

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
