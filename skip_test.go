package opa_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// PLUGIN_ON_ERROR=skip with compiled-in plugins: what fails after loading.
// (Failures at loading, with real files, are in e2e_safety_test.go.)

func reportOf(t *testing.T, m *opa.Manager, name string) opa.PluginReport {
	t.Helper()
	for _, p := range m.Report().Plugins {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no plugin %q in the report", name)
	return opa.PluginReport{}
}

func TestSkipLeavesOutPluginsThatFailToRegister(t *testing.T) {
	def := opa.HookDefinition{Name: "greet", Func: (func(string) string)(nil)}
	good := opa.Plugin{HookDefinitions: []opa.HookDefinition{def},
		Hooks: []opa.Hook{{Name: "greet", Func: func(s string) string { return "hi " + s }}}}
	dupDef := opa.Plugin{HookDefinitions: []opa.HookDefinition{def}}
	wrongType := opa.Plugin{Hooks: []opa.Hook{{Name: "greet", Order: 9, Func: func(int) string { return "" }}}}
	dupTask := opa.Plugin{Tasks: []opa.Task{opa.NewTask("k", func(context.Context, struct{}) error { return nil })}}

	for _, mode := range []string{"", "fail", "skip"} {
		t.Run("mode "+mode, func(t *testing.T) {
			m, err := startMgr(t, opa.Config{OnError: mode}, chi.NewRouter(),
				opa.WithPlugin("a-good", good), opa.WithPlugin("b-dupdef", dupDef),
				opa.WithPlugin("c-wrongtype", wrongType), opa.WithPlugin("d-task", dupTask), opa.WithPlugin("e-task", dupTask))
			if mode != "skip" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "plugin b-dupdef")
				return
			}
			require.NoError(t, err)
			res, err := m.CallHook("greet", "ada")
			require.NoError(t, err)
			assert.Equal(t, []any{"hi ada"}, res, "the wrong-typed hook with a higher Order was left out")
			for name, want := range map[string]string{
				"b-dupdef":    `There can only be 1 hook-definition per hook-name. "greet" is already registered`,
				"c-wrongtype": "hook \"greet\" has type func(int) string, but its definition (plugin a-good) wants func(string) string",
				"e-task":      `task kind "k" is already declared by plugin d-task`,
			} {
				p := reportOf(t, m, name)
				assert.False(t, p.Loaded, name)
				assert.Contains(t, p.Reason, want, name)
			}
			assert.True(t, reportOf(t, m, "d-task").Loaded)
			assert.Equal(t, []string{"d-task"}, m.TaskCandidates())
		})
	}
}

func TestSkipReportsAFailedSetupAndGoesOn(t *testing.T) {
	r := chi.NewRouter()
	ran := false
	m, err := startMgr(t, opa.Config{OnError: "skip"}, r,
		opa.WithPlugin("a", opa.Plugin{Setups: []opa.Setup{func(context.Context, chi.Router) error { panic("bad setup") }}}),
		opa.WithPlugin("b", opa.Plugin{Setups: []opa.Setup{func(context.Context, chi.Router) error { ran = true; return nil }}}))
	require.NoError(t, err)
	assert.True(t, ran, "later setups still run")
	a := reportOf(t, m, "a")
	assert.True(t, a.Loaded)
	assert.Contains(t, a.Error, "plugin a")
	assert.Contains(t, a.Error, "setup 1: panicked: bad setup")
}

func TestSkipMarksAPanickingDriverFailed(t *testing.T) {
	c := newCalls(t)
	cfg := opa.Config{OnError: "skip", OptionalComponents: map[string]opa.ComponentConfig{
		"a": comp("yes", "fake", "a", "connect", "panic"),
		"b": comp("yes", "fake", "b"),
	}}
	m, err := startMgr(t, cfg, nil, driverPlugin(c))
	require.NoError(t, err)
	_, err = m.Component("a")
	var pe *opa.PanicError
	require.True(t, errors.As(err, &pe), "%v", err)
	_, err = m.Component("b")
	assert.NoError(t, err)
	states := map[string]string{}
	for _, cr := range m.Report().Components {
		states[cr.Name] = cr.State
	}
	assert.Equal(t, map[string]string{"a": "failed", "b": "connected"}, states)

	// Without skip, the same panic fails Startup.
	cfg.OnError = ""
	_, err = startMgr(t, cfg, nil, driverPlugin(newCalls(t)))
	assert.ErrorContains(t, err, "connect: panicked")

	// An ordinary error is the service's, not the plugin's: it fails Startup even with skip.
	cfg.OnError = "skip"
	cfg.OptionalComponents["a"] = comp("yes", "fake", "a", "connect", "fail")
	_, err = startMgr(t, cfg, nil, driverPlugin(newCalls(t)))
	assert.Error(t, err)
}

func TestSetupReachesComponentsThroughItsContext(t *testing.T) {
	c := newCalls(t)
	var got *fakeClient
	var from *opa.Manager
	cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"db": comp("yes", "fake", "db")}}
	m, err := startMgr(t, cfg, chi.NewRouter(), driverPlugin(c),
		opa.WithPlugin("web", opa.Plugin{Setups: []opa.Setup{func(ctx context.Context, _ chi.Router) error {
			var err error
			from = opa.ManagerFrom(ctx)
			got, err = opa.InstanceOf[*fakeClient](from, "db")
			return err
		}}}))
	require.NoError(t, err)
	assert.Same(t, m, from, "the setup's ctx carries the Manager being started")
	require.NotNil(t, got)
	assert.Equal(t, "db", got.ID)
	assert.Nil(t, opa.ManagerFrom(context.Background()))

	// A failing setup leaves nothing reachable.
	m, err = startMgr(t, cfg, chi.NewRouter(), driverPlugin(newCalls(t)),
		opa.WithPlugin("web", opa.Plugin{Setups: []opa.Setup{func(context.Context, chi.Router) error { return errors.New("no") }}}))
	require.Error(t, err)
	_, err = m.Component("db")
	assert.ErrorIs(t, err, opa.ErrState)
}
