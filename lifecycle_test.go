package opa_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/internal/testenv"
)

// threeComps configures components a, b and c (connect order), each with
// extra OPTS from extra[name].
func threeComps(extra map[string][]string) opa.Config {
	cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{}}
	for _, n := range []string{"c", "a", "b"} {
		cfg.OptionalComponents[n] = comp("yes", "fake", n, extra[n]...)
	}
	return cfg
}

var connectedABC = []string{"new:a", "connect:a", "validate:a", "new:b", "connect:b", "validate:b", "new:c", "connect:c", "validate:c"}

func TestLifecycleFailedStartupRollsBack(t *testing.T) {
	cases := []struct {
		name      string
		extra     map[string][]string
		plugin    func(*calls) opa.Plugin // besides the driver plugin "drv"
		host      func(chi.Router)
		want      []string
		wantCalls []string
	}{
		{"the third component fails to connect", map[string][]string{"c": {"connect", "fail"}}, nil, nil,
			[]string{"component c (driver fake, plugin drv): connect: connect c", "authentication failed"},
			[]string{"new:a", "connect:a", "validate:a", "new:b", "connect:b", "validate:b", "new:c", "connect:c", "close:b", "close:a"}},
		{"the third component fails to validate", map[string][]string{"c": {"validate", "fail"}}, nil, nil,
			[]string{"component c (driver fake, plugin drv): validate: validate c"},
			append(connectedABC[:9:9], "close:c", "close:b", "close:a")},
		{"a close error during rollback is joined", map[string][]string{"c": {"connect", "fail"}, "a": {"close", "fail"}}, nil, nil,
			[]string{"component c", "additionally, cleanup", "component a (driver fake, plugin drv): close: close a with"},
			[]string{"new:a", "connect:a", "validate:a", "new:b", "connect:b", "validate:b", "new:c", "connect:c", "close:b", "close:a"}},
		{"a route conflict is found before any component connects", nil, func(*calls) opa.Plugin {
			r := chi.NewRouter()
			r.Get("/taken", text("plugin"))
			return opa.Plugin{Router: r}
		}, func(r chi.Router) { r.Get("/taken", text("host")) },
			[]string{"plugin web", "routes", "GET /taken is already served by the host"},
			nil},
		{"a setup error", nil, func(c *calls) opa.Plugin {
			return opa.Plugin{Setups: []opa.Setup{
				func(context.Context, chi.Router) error { c.add("setup:1"); return nil },
				func(context.Context, chi.Router) error { c.add("setup:2"); return errors.New("no migrations") },
			}}
		}, nil,
			[]string{"plugin web", "setup 2", "no migrations"},
			append(connectedABC[:9:9], "setup:1", "setup:2", "close:c", "close:b", "close:a")},
		{"a setup panic", nil, func(*calls) opa.Plugin {
			return opa.Plugin{Setups: []opa.Setup{func(context.Context, chi.Router) error { panic("oops") }}}
		}, nil,
			[]string{"plugin web", "setup 1", "panicked: oops"},
			append(connectedABC[:9:9], "close:c", "close:b", "close:a")},
		{"a nil setup", nil, func(*calls) opa.Plugin { return opa.Plugin{Setups: []opa.Setup{nil}} }, nil,
			[]string{"plugin web", "setup 1", "nil func"},
			append(connectedABC[:9:9], "close:c", "close:b", "close:a")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls(t)
			opts := []opa.Option{driverPlugin(c)}
			if tc.plugin != nil {
				opts = append(opts, opa.WithPlugin("web", tc.plugin(c)))
			}
			host := chi.NewRouter()
			if tc.host != nil {
				tc.host(host)
			}
			m, err := startMgr(t, threeComps(tc.extra), host, opts...)
			require.Error(t, err)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
			assert.Equal(t, tc.wantCalls, c.get(), "connected components closed in reverse order")
			assert.Equal(t, err.Error(), m.Report().Error)
			_, cerr := m.Component("a")
			assert.ErrorIs(t, cerr, opa.ErrState)
			assert.ErrorIs(t, m.Shutdown(context.Background()), opa.ErrState, "nothing left to shut down")
			assert.ErrorIs(t, m.Startup(context.Background(), host), opa.ErrState, "a failed manager does not start again")
			assert.Equal(t, tc.wantCalls, c.get(), "nothing closed twice")
		})
	}
}

func TestShutdown(t *testing.T) {
	cases := []struct {
		name  string
		extra map[string][]string
		want  []string
	}{
		{"closes in reverse connect order", nil, nil},
		{"keeps going after a close error", map[string][]string{"b": {"close", "fail"}}, []string{"close b with"}},
		{"joins all close errors", map[string][]string{"c": {"close", "fail"}, "a": {"close", "panic"}},
			[]string{"component c", "close c with", "component a", "close: panicked"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls(t)
			m, err := startMgr(t, threeComps(tc.extra), nil, driverPlugin(c))
			require.NoError(t, err)
			err = m.Shutdown(context.Background())
			assert.Equal(t, append(connectedABC[:9:9], "close:c", "close:b", "close:a"), c.get())
			if tc.want == nil {
				assert.NoError(t, err)
			}
			for _, s := range tc.want {
				assert.ErrorContains(t, err, s)
			}
			assert.ErrorIs(t, m.Shutdown(context.Background()), opa.ErrState, "Shutdown twice")
			_, err = m.CallHook("x")
			assert.ErrorIs(t, err, opa.ErrState, "no calls after Shutdown")
		})
	}
}

// TestShutdownBoundedByComponentTimeout: a Close that never returns costs
// Shutdown COMPONENT_TIMEOUT, not forever; the error names the component
// and the components before it in reverse order still close.
func TestShutdownBoundedByComponentTimeout(t *testing.T) {
	c := newCalls(t)
	cfg := threeComps(map[string][]string{"b": {"close", "hang"}})
	cfg.ComponentTimeout = 50 * time.Millisecond
	m, err := startMgr(t, cfg, nil, driverPlugin(c))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Shutdown(context.Background()) }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("Shutdown did not return: waited for COMPONENT_TIMEOUT (50ms) to end b's hanging Close")
	}
	assert.ErrorContains(t, err, "component b")
	assert.ErrorContains(t, err, "close: did not return within 50ms")
	assert.Equal(t, append(connectedABC[:9:9], "close:c", "close:b", "close:a"), c.get())
}

func TestShutdownWithCancelledContext(t *testing.T) {
	c := newCalls(t)
	m, err := startMgr(t, threeComps(nil), nil, driverPlugin(c))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Shutdown(ctx); err != nil {
		assert.ErrorIs(t, err, context.Canceled, "an expired ctx is Shutdown's error")
	}
	want := append(connectedABC[:9:9], "close:c", "close:b", "close:a")
	require.Eventually(t, func() bool { return len(c.get()) == len(want) }, 10*time.Second, time.Millisecond,
		"every component still gets its chance to close; calls so far: %v", c.get())
	assert.Equal(t, want, c.get())
}

func TestLifecycleStates(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(m *opa.Manager) error
	}{
		{"Shutdown before Startup", func(m *opa.Manager) error { return m.Shutdown(ctx) }},
		{"Startup twice", func(m *opa.Manager) error { _ = m.StartupSimple(ctx); return m.Startup(ctx, chi.NewRouter()) }},
		{"StartupSimple twice", func(m *opa.Manager) error { _ = m.StartupSimple(ctx); return m.StartupSimple(ctx) }},
		{"Startup after Shutdown", func(m *opa.Manager) error {
			_ = m.StartupSimple(ctx)
			_ = m.Shutdown(ctx)
			return m.StartupSimple(ctx)
		}},
		{"Component before Startup", func(m *opa.Manager) error { _, err := m.Component("x"); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(newMgr(t, opa.Config{}))
			assert.ErrorIs(t, err, opa.ErrState)
		})
	}
	t.Run("Startup with a nil router", func(t *testing.T) {
		assert.ErrorContains(t, newMgr(t, opa.Config{}).Startup(ctx, nil), "router is nil")
		// A nil *chi.Mux in the interface panicked in chi.Walk, and left
		// the Manager starting for good.
		m := newMgr(t, opa.Config{})
		assert.ErrorContains(t, m.Startup(ctx, (*chi.Mux)(nil)), "router is nil")
		require.NoError(t, m.StartupSimple(ctx), "the Manager can still start")
		require.NoError(t, m.Shutdown(ctx))
	})
}

func TestLifecyclePackageLevel(t *testing.T) {
	opa.SetDefault(nil)
	t.Cleanup(func() { opa.SetDefault(nil) })
	cfg := opa.Config{DefaultPluginPath: t.TempDir()}
	good := opa.WithPlugin("p", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", nil)}, Hooks: []opa.Hook{hook("greet", 0, says("one"))}})
	bad := opa.WithPlugin("p", opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: "greet", Required: true}}})
	opts := func(p opa.Option) []opa.Option {
		return []opa.Option{opa.WithConfig(cfg), opa.WithLogger(quietLog()), p}
	}

	// Start from no default manager, whatever ran before in this binary:
	// the test does not depend on other tests' cleanups.
	opa.SetDefault(nil)
	assert.Nil(t, opa.GetManager())
	assert.ErrorIs(t, opa.Shutdown(context.Background()), opa.ErrState, "Shutdown before Startup")
	err := opa.StartupSimple(opts(bad)...)
	require.Error(t, err)
	failed := opa.GetManager()
	require.NotNil(t, failed, "after a failed Startup, GetManager returns the failed manager")
	assert.Equal(t, err.Error(), failed.Report().Error, "its Report says why")
	_, err = opa.CallHook("greet", "x")
	assert.ErrorIs(t, err, opa.ErrState, "the package-level functions say it did not start")
	assert.ErrorIs(t, opa.Shutdown(context.Background()), opa.ErrState, "nothing to shut down")

	require.NoError(t, opa.Startup(chi.NewRouter(), opts(good)...))
	first := opa.GetManager()
	require.NotNil(t, first)
	res, err := opa.CallHook("greet", "x")
	require.NoError(t, err)
	assert.Equal(t, []any{"one"}, res)

	assert.ErrorIs(t, opa.Startup(chi.NewRouter(), opts(good)...), opa.ErrState, "Startup while the default is started")
	assert.ErrorIs(t, opa.StartupSimple(opts(good)...), opa.ErrState)
	assert.Same(t, first, opa.GetManager())

	require.NoError(t, opa.Shutdown(context.Background()))
	require.Error(t, opa.StartupSimple(opts(bad)...))
	assert.NotSame(t, first, opa.GetManager(), "a failed Startup replaces the previous default: no stale manager answers")
	_, err = opa.CallHook("greet", "x")
	assert.ErrorIs(t, err, opa.ErrState)
	require.NoError(t, opa.StartupSimple(opts(good)...), "Startup after Shutdown")
	assert.NotSame(t, first, opa.GetManager())
	require.NoError(t, opa.Shutdown(context.Background()))
	assert.ErrorIs(t, opa.Shutdown(context.Background()), opa.ErrState, "Shutdown twice")
}

func TestLifecycleSetupsAndSimple(t *testing.T) {
	var mu sync.Mutex
	var log []string
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, s)
	}
	plugin := func(name string) opa.Plugin {
		r := chi.NewRouter()
		r.Get("/"+name, text(name))
		walk := func(_ context.Context, host chi.Router) error {
			return chi.Walk(host, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
				record(name + " sees " + method + " " + pattern)
				return nil
			})
		}
		return opa.Plugin{Router: r, Setups: []opa.Setup{walk, func(context.Context, chi.Router) error { record(name + " done"); return nil }}}
	}
	opts := []opa.Option{opa.WithPlugin("b", plugin("b")), opa.WithPlugin("a", plugin("a"))}

	t.Run("Startup runs setups in plugin order after all routes", func(t *testing.T) {
		log = nil
		host := chi.NewRouter()
		m, err := startMgr(t, opa.Config{}, host, opts...)
		require.NoError(t, err)
		assert.Equal(t, []string{"a sees GET /a", "a sees GET /b", "a done", "b sees GET /a", "b sees GET /b", "b done"}, log)
		assert.Len(t, m.Report().Routes, 2)
	})
	t.Run("StartupSimple mounts no routes and runs no setups", func(t *testing.T) {
		log = nil
		m, err := startMgr(t, opa.Config{}, nil, opts...)
		require.NoError(t, err)
		assert.Empty(t, log)
		assert.Empty(t, m.Report().Routes)
	})
}

func TestLifecycleReport(t *testing.T) {
	c := newCalls(t)
	r := chi.NewRouter()
	r.Get("/r", text("r"))
	web := opa.WithPlugin("web", opa.Plugin{
		HookDefinitions: []opa.HookDefinition{def("greet", greetFn(nil)), {Name: "spare"}},
		Hooks:           []opa.Hook{hook("greet", 4, says("web"))},
		Router:          r,
	}, "ui", "http")
	cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
		"db":  comp("yes", "fake", "db"),
		"kv":  comp("auto", "fake", "kv", "connect", "unavailable"),
		"off": comp("no", "fake", "off"),
	}}
	m, err := startMgr(t, cfg, chi.NewRouter(), driverPlugin(c), web)
	require.NoError(t, err)
	rep := m.Report()
	require.Len(t, rep.Plugins, 2)
	assert.Equal(t, "drv", rep.Plugins[0].Name)
	assert.Equal(t, "web", rep.Plugins[1].Name)
	assert.True(t, rep.Plugins[1].Loaded && rep.Plugins[1].Builtin)
	assert.Equal(t, []string{"ui", "http"}, rep.Plugins[1].Tags)
	assert.Equal(t, []opa.HookReport{
		{Name: "greet", DefinedBy: "web", Type: "opa_test.greetFn", Plugin: "web", Order: 4,
			Candidates: []opa.HookCandidate{{Plugin: "web", Order: 4, Winner: true}}},
		{Name: "spare", DefinedBy: "web", Candidates: []opa.HookCandidate{}},
	}, rep.Hooks)
	require.Len(t, rep.Components, 3)
	assert.Equal(t, opa.ComponentReport{Name: "db", Driver: "fake", Plugin: "drv", Load: "yes", State: opa.StateConnected}, rep.Components[0])
	assert.Equal(t, opa.StateUnavailable, rep.Components[1].State)
	assert.Contains(t, rep.Components[1].Error, "unavailable")
	assert.Equal(t, opa.StateDisabled, rep.Components[2].State)
	assert.Equal(t, []opa.RouteReport{{Method: "GET", Pattern: "/r", Plugin: "web"}}, rep.Routes)
	assert.Empty(t, rep.Error)
	assert.Contains(t, rep.String(), "component kv (driver fake, LOAD=auto): unavailable")
}

// A package-level Startup whose config is refused (New fails) leaves a
// failed default Manager whose Report says "failed" and why.
func TestPackageStartupConfigErrorReport(t *testing.T) {
	opa.SetDefault(nil)
	t.Cleanup(func() { opa.SetDefault(nil) })
	bad := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"db": {Load: "sometimes", Driver: "x"}}}
	err := opa.StartupSimple(opa.WithConfig(bad), opa.WithLogger(quietLog()))
	require.ErrorIs(t, err, opa.ErrConfig)
	rep := opa.GetManager().Report()
	assert.Equal(t, "failed", rep.State)
	assert.Equal(t, err.Error(), rep.Error)
}

// A setup (or a signal handler) that calls Shutdown while Startup runs gets
// ErrState at once: Shutdown waited for Startup's lock, which Startup held
// while it waited for that setup, for ever.
func TestShutdownDuringStartup(t *testing.T) {
	var fromSetup error
	m := newMgr(t, opa.Config{}, opa.WithPlugin("quitter", opa.Plugin{Setups: []opa.Setup{
		func(ctx context.Context, _ chi.Router) error {
			fromSetup = opa.ManagerFrom(ctx).Shutdown(ctx)
			return nil
		},
	}}))
	err := testenv.Returns(t, "Startup whose setup calls Shutdown", func() error { return m.Startup(t.Context(), chi.NewRouter()) })
	require.NoError(t, err)
	assert.ErrorIs(t, fromSetup, opa.ErrState)
	assert.ErrorContains(t, fromSetup, "Shutdown called while Startup runs")
	require.NoError(t, m.Shutdown(t.Context()), "once Startup returned, Shutdown works")
}

// Routes mounted by a Startup that failed stay on the host router (chi
// cannot take a route back): they answer 503 naming the plugin, not the
// plugin's handler over closed components, and a later Startup on the same
// router mounts its own there.
func TestFailedStartupRetiresItsRoutes(t *testing.T) {
	host := chi.NewRouter()
	withRoute := func(body string, setup opa.Setup) opa.Option {
		r := chi.NewRouter()
		r.Get("/web", text(body))
		p := opa.Plugin{Router: r}
		if setup != nil {
			p.Setups = []opa.Setup{setup}
		}
		return opa.WithPlugin("web", p)
	}
	failing := newMgr(t, opa.Config{}, withRoute("first", func(context.Context, chi.Router) error { return errors.New("no database") }))
	require.ErrorContains(t, failing.Startup(t.Context(), host), "no database")

	rec := httptest.NewRecorder()
	host.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/web", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "plugin web is not loaded: the Startup that mounted GET /web failed\n", rec.Body.String())

	again := newMgr(t, opa.Config{}, withRoute("second", nil))
	require.NoError(t, again.Startup(t.Context(), host), "the failed Startup's route does not count as the host's")
	rec = httptest.NewRecorder()
	host.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/web", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "second", rec.Body.String())
}
