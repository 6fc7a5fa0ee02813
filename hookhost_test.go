package opa_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// TestHostHookDefinitions covers hook definitions of the host's own
// (WithHooks): no filter applies to them, the report shows them as the
// host's, and the errors around them and around definitions a filter left
// out name who is to blame.
func TestHostHookDefinitions(t *testing.T) {
	greet := opa.HookDefinition{Name: "greet", Required: true, Func: greetFn(nil)}
	impl := func(name string, tags ...string) opa.Option {
		return opa.WithPlugin(name, opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, greetFn(says(name)))}}, tags...)
	}
	cases := []struct {
		name    string
		cfg     opa.Config
		opts    []opa.Option
		wantErr []string // substrings of Startup's error; none: it starts
		notErr  string   // a substring the error must not hold
		check   func(t *testing.T, m *opa.Manager)
	}{
		{
			name: "a host definition starts under a whitelist that drops every plugin but the implementer",
			cfg:  opa.Config{WhitelistTags: []string{"web"}},
			opts: []opa.Option{opa.WithHooks(greet), impl("hello", "web"), impl("other")},
			check: func(t *testing.T, m *opa.Manager) {
				res, err := m.CallHook("greet", "x")
				require.NoError(t, err)
				assert.Equal(t, []any{"hello"}, res)
				hooks := m.Report().Hooks
				require.Len(t, hooks, 1)
				assert.True(t, hooks[0].Host)
				assert.Equal(t, "host", hooks[0].DefinedBy)
				assert.Contains(t, m.Report().String(), "hook greet (defined by the host): plugin hello")
			},
		},
		{
			name:    "a required host definition nothing implements names the hook",
			opts:    []opa.Option{opa.WithHooks(greet, opa.HookDefinition{Name: "other"})},
			wantErr: []string{"Hooks that should be registered: [greet]", "greet (defined by the host)"},
		},
		{
			name:    "a required host definition whose implementer a filter dropped",
			cfg:     opa.Config{WhitelistTags: []string{"web"}},
			opts:    []opa.Option{opa.WithHooks(greet), impl("hello")},
			wantErr: []string{"Hooks that should be registered: [greet]", "defined by the host"},
		},
		{
			name: "a hook whose definition a filter left out names that plugin and the filter",
			cfg:  opa.Config{WhitelistRE: ".*/must_impl"},
			opts: []opa.Option{
				opa.WithPlugin("required", opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: "must", Required: true}}}),
				opa.WithPlugin("must_impl", opa.Plugin{Hooks: []opa.Hook{hook("must", 0, func() {})}}),
			},
			wantErr: []string{"plugin must_impl", `hook "must" of plugin must_impl: its definition comes from plugin required`, "does not match PLUGIN_WHITELIST_RE"},
			notErr:  "correct name",
		},
		{
			name:    "a typo gets a did-you-mean and names the plugin",
			opts:    []opa.Option{opa.WithHooks(greet), opa.WithPlugin("typo", opa.Plugin{Hooks: []opa.Hook{hook("gret", 0, says("typo"))}})},
			wantErr: []string{"plugin typo", `There are no hook-definition for hook "gret", are you using the correct name? (did you mean "greet"?)`},
		},
		{
			name:    "a plugin defining the host's hook again",
			opts:    []opa.Option{opa.WithHooks(greet), opa.WithPlugin("dup", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", nil)}})},
			wantErr: []string{"plugin dup", `"greet" is already registered (by the host)`},
		},
		{
			name:    "a hook of another type than the host's definition",
			opts:    []opa.Option{opa.WithHooks(greet), opa.WithPlugin("bad", opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, func(int) string { return "" })}})},
			wantErr: []string{"plugin bad", "its definition (the host) wants opa_test.greetFn"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := startMgr(t, tc.cfg, nil, tc.opts...)
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				for _, s := range tc.wantErr {
					assert.Contains(t, err.Error(), s)
				}
				if tc.notErr != "" {
					assert.NotContains(t, err.Error(), tc.notErr)
				}
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func TestWithHooksRefusesBadDefinitions(t *testing.T) {
	cases := []struct {
		name string
		defs []opa.HookDefinition
		want string
	}{
		{"no name", []opa.HookDefinition{{Func: greetFn(nil)}}, "has no Name"},
		{"Func not a func", []opa.HookDefinition{{Name: "x", Func: 3}}, "Func must be a typed nil func"},
		{"a name twice", []opa.HookDefinition{{Name: "x"}, {Name: "x"}}, `hook "x" is defined twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := opa.New(opa.WithConfig(opa.Config{DefaultPluginPath: t.TempDir()}), opa.WithHooks(tc.defs...))
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "opa: WithHooks: "), err.Error())
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestHookRef follows one package-level handle through the lifecycle of
// the default Manager.
func TestHookRef(t *testing.T) {
	opa.SetDefault(nil)
	t.Cleanup(func() { opa.SetDefault(nil) })
	greet := opa.HookRef[greetFn]("greet")
	wrongType := opa.HookRef[func() int]("greet")
	unknown := opa.HookRef[greetFn]("gret")
	assert.Equal(t, "greet", greet.Name())
	assert.Same(t, greet, opa.HookRef[greetFn]("greet"), "one handle per name and type: a HookRef per request piles nothing up")
	_, err := new(opa.HookHandle[greetFn]).Func()
	assert.ErrorContains(t, err, "make it with opa.HookRef")
	start := func(who string) *opa.Manager {
		t.Helper()
		m, err := startMgr(t, opa.Config{}, nil, opa.WithHooks(opa.HookDefinition{Name: "greet", Func: greetFn(nil)}),
			opa.WithPlugin(who, opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, greetFn(says(who)))}}))
		require.NoError(t, err)
		return m
	}
	notReady := func(t *testing.T, why string) {
		t.Helper()
		f, err := greet.Func()
		assert.ErrorIs(t, err, opa.ErrState, why)
		assert.NotContains(t, err.Error(), "served no hooks", why+": the error says why")
		assert.Nil(t, f, why+": no func with the error")
	}

	notReady(t, "no default Manager")
	first := start("first")
	unstarted := newMgr(t, opa.Config{})
	opa.SetDefault(unstarted)
	notReady(t, "the default Manager is not started")

	opa.SetDefault(first)
	f, err := greet.Func()
	require.NoError(t, err)
	require.NotNil(t, f)
	assert.Equal(t, "first", f("x"))
	f, err = greet.Func()
	require.NoError(t, err)
	assert.Equal(t, "first", f("x"), "cached")

	_, err = wrongType.Func()
	assert.ErrorIs(t, err, opa.ErrBadCall)
	_, err = unknown.Func()
	assert.ErrorIs(t, err, opa.ErrNotFound)
	assert.ErrorContains(t, err, `did you mean "greet"?`)

	require.NoError(t, first.Shutdown(context.Background()))
	notReady(t, "the default Manager is shut down")

	second := start("second")
	opa.SetDefault(second)
	f, err = greet.Func()
	require.NoError(t, err)
	assert.Equal(t, "second", f("x"), "resolved again for the new default Manager")

	allocs := testing.AllocsPerRun(100, func() {
		f, err := greet.Func()
		if err != nil {
			panic(err)
		}
		_ = f("x")
	})
	assert.Zero(t, allocs, "a call through the handle allocates nothing")
}

// TestHookRefConcurrently resolves one handle from many goroutines at once
// (run under -race).
func TestHookRefConcurrently(t *testing.T) {
	m, err := startMgr(t, opa.Config{}, nil, callPlugins()...)
	require.NoError(t, err)
	opa.SetDefault(m)
	t.Cleanup(func() { opa.SetDefault(nil) })
	h := opa.HookRef[greetFn]("greet")
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			for range 100 {
				f, err := h.Func()
				if err == nil && f("a") != "Hello a" {
					err = assert.AnError
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		require.NoError(t, <-errs)
	}
}

// TestHookRefDuringStartup uses a handle from a component's Connect, which
// runs once the hooks are registered, and from a setup.
func TestHookRefDuringStartup(t *testing.T) {
	opa.SetDefault(nil)
	t.Cleanup(func() { opa.SetDefault(nil) })
	h := opa.HookRef[greetFn]("greet")
	got := make(chan string, 2)
	use := func() error {
		f, err := h.Func()
		if err != nil {
			return err
		}
		got <- f("x")
		return nil
	}
	drv := opa.Driver{Name: "user", New: func(opa.Options) (opa.Component, error) { return connectFunc(use), nil }}
	p := opa.Plugin{
		HookDefinitions: []opa.HookDefinition{def("greet", greetFn(nil))},
		Hooks:           []opa.Hook{hook("greet", 0, greetFn(says("p")))},
		Drivers:         []opa.Driver{drv},
		Setups:          []opa.Setup{func(context.Context, chi.Router) error { return use() }},
	}
	cfg := cfgWithTemp(t, opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"u": {Load: "yes", Driver: "user"}}})
	require.NoError(t, opa.Startup(chi.NewRouter(), opa.WithConfig(cfg), opa.WithLogger(quietLog()), opa.WithPlugin("p", p)))
	t.Cleanup(func() { _ = opa.Shutdown(context.Background()) })
	assert.Equal(t, "p", <-got, "in Connect")
	assert.Equal(t, "p", <-got, "in a setup")
}

// connectFunc is a component whose Connect calls itself.
type connectFunc func() error

func (c connectFunc) Connect(context.Context) error { return c() }
func (c connectFunc) Instance() any                 { return nil }

// TestStartupReportsSectionWarnings: an ENV that names no section of the
// settings files, and a misspelt section, are in the report's warnings.
func TestStartupReportsSectionWarnings(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "opa.yaml"), []byte("default: {}\nproduction: {}\nprodution: {}\n"), 0o644))
	t.Setenv("OPA_SETTINGS_DIR", dir)
	t.Setenv("ENV", "prod")
	t.Setenv("OPA_PLUGIN_DEFAULT_PATH", t.TempDir())
	m, err := opa.New(opa.WithLogger(quietLog()))
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(context.Background()))
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	w := m.Report().Warnings
	require.Len(t, w, 2, "%q", w)
	assert.Equal(t, "ENV=prod: no settings file has a section prod; sections are default, production, prodution (did you mean production?)", w[0])
	assert.Contains(t, w[1], "section prodution applies only under ENV=prodution")

	// Explain (opa ls) says the same, once per call.
	rep, err := m.Explain(nil)
	require.NoError(t, err)
	assert.Equal(t, w, rep.Warnings)
}

// TestHookDefinitionMaybeInALeftOutSo: a .so file that a filter left out
// is never opened, so its definitions are unknown; a hook with no
// definition then says it may come from that plugin, and why it was left
// out, rather than blaming the hook's name.
func TestHookDefinitionMaybeInALeftOutSo(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "defs.so"), nil, 0o644)) // never opened: the filter drops it
	cfg := opa.Config{PluginPaths: []string{dir}, WhitelistRE: ".*/impl$"}
	_, err := startMgr(t, cfg, nil, opa.WithPlugin("impl", opa.Plugin{Hooks: []opa.Hook{hook("must", 0, func() {})}}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `plugin impl`)
	assert.Contains(t, err.Error(), `it may come from a plugin that was not loaded: defs (does not match PLUGIN_WHITELIST_RE)`)
	assert.NotContains(t, err.Error(), "correct name")
}
