package opa

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withHostHooks empties DefineHook's definitions for one test, and restores
// them after it.
func withHostHooks(t *testing.T) {
	hostHooks.Lock()
	saved := hostHooks.defs
	hostHooks.defs = nil
	hostHooks.Unlock()
	t.Cleanup(func() {
		hostHooks.Lock()
		hostHooks.defs = saved
		hostHooks.Unlock()
	})
}

func TestDefineHook(t *testing.T) {
	withHostHooks(t)
	SetDefault(nil)
	t.Cleanup(func() { SetDefault(nil) })

	DefineHook(HookDefinition{Name: "greet", Required: true, Func: (func(string) string)(nil)})
	assert.PanicsWithValue(t, `opa: DefineHook("greet"): a hook of this name is already defined`, func() { DefineHook(HookDefinition{Name: "greet"}) })
	assert.PanicsWithValue(t, "opa: DefineHook: a hook definition has no Name", func() { DefineHook(HookDefinition{}) })
	assert.Panics(t, func() { DefineHook(HookDefinition{Name: "n", Func: 1}) })
	_, err := New(WithConfig(Config{DefaultPluginPath: t.TempDir()}), WithHooks(HookDefinition{Name: "greet"}))
	assert.ErrorContains(t, err, `WithHooks: hook "greet" is defined twice`, "WithHooks sees DefineHook's names")

	// Every plugin is filtered out, and the host's required hook is still
	// defined: Startup fails naming it.
	cfg := Config{DefaultPluginPath: t.TempDir(), WhitelistTags: []string{"none"}}
	impl := WithPlugin("impl", Plugin{Hooks: []Hook{{Name: "greet", Func: func(s string) string { return "hi " + s }}}})
	err = StartupSimple(WithConfig(cfg), impl, WithLogger(discardLog()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Hooks that should be registered: [greet]: greet (defined by the host)")

	cfg.WhitelistTags = nil
	require.NoError(t, StartupSimple(WithConfig(cfg), impl, WithLogger(discardLog())))
	res, err := CallHook("greet", "ada")
	require.NoError(t, err)
	assert.Equal(t, []any{"hi ada"}, res)
	assert.PanicsWithValue(t, `opa: DefineHook("late") called after opa.Startup: define the host's hooks before it`,
		func() { DefineHook(HookDefinition{Name: "late"}) }, "after Startup the definition could not apply")
	require.NoError(t, Shutdown(context.Background()))
	assert.NotPanics(t, func() { DefineHook(HookDefinition{Name: "late"}) }, "after Shutdown, the next Startup takes it")
}

// TestNotStartedWhileStarting is the error of a hook called while Startup
// runs but before it registered the hooks (from a plugin's package-level
// var, while plugin.Open runs its init).
func TestNotStartedWhileStarting(t *testing.T) {
	m, err := New(WithConfig(Config{DefaultPluginPath: t.TempDir()}), WithLogger(discardLog()))
	require.NoError(t, err)
	_, err = m.CallHook("greet")
	assert.ErrorContains(t, err, "the manager is not started (call Startup first)")
	m.running.Store(true) // as Startup does while it loads the plugins
	_, err = m.CallHook("greet")
	assert.ErrorIs(t, err, ErrState)
	assert.ErrorContains(t, err, "Startup is running; hooks are registered at step 2")
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
