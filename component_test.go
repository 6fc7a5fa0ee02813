package opa_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// ---- helpers shared by the hook, call, component, route, lifecycle and
// redact tests. These tests never open a .so file: every plugin is compiled
// in with WithPlugin, and the default plugin path is an empty directory.

// quietLog drops every log record.
func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newMgr makes a Manager over cfg that sees only the compiled-in plugins in
// opts. Its logger is silent unless opts set one.
func newMgr(t *testing.T, cfg opa.Config, opts ...opa.Option) *opa.Manager {
	t.Helper()
	if cfg.DefaultPluginPath == "" {
		cfg.DefaultPluginPath = t.TempDir()
	}
	m, err := opa.New(append([]opa.Option{opa.WithConfig(cfg), opa.WithLogger(quietLog())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	return m
}

// startMgr makes a Manager and starts it with r (StartupSimple if r is nil).
func startMgr(t *testing.T, cfg opa.Config, r chi.Router, opts ...opa.Option) (*opa.Manager, error) {
	t.Helper()
	m := newMgr(t, cfg, opts...)
	if r == nil {
		return m, m.StartupSimple(context.Background())
	}
	return m, m.Startup(context.Background(), r)
}

// calls records, in order, what the fake drivers and components were asked
// to do ("new:a", "connect:a", "validate:a", "close:a"). A step that hangs
// waits for the end of the test.
type calls struct {
	mu      sync.Mutex
	log     []string
	release chan struct{}
	unhang  func() // returns every step that hangs
}

func newCalls(t *testing.T) *calls {
	c := &calls{release: make(chan struct{})}
	c.unhang = sync.OnceFunc(func() { close(c.release) })
	t.Cleanup(c.unhang)
	return c
}

func (c *calls) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, s)
}

func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// fakeClient is the Instance of a fake component.
type fakeClient struct{ ID string }

// fake is a component whose every step does what its OPTS say: the option
// named after the step ("new", "connect", "validate", "close") is "ok" (the
// default), "unavailable", "fail", "panic" or "hang" (ignoring ctx). Its
// errors and panics echo all its options, as careless drivers do. "id" names
// it in the calls log; "bare": "yes" builds one without Validate, Close and
// Util.
type fake struct {
	id    string
	opts  opa.Options
	calls *calls
}

func (f *fake) step(step string) error {
	f.calls.add(step + ":" + f.id)
	switch f.opts[step] {
	case "unavailable":
		return fmt.Errorf("%s %s: dial with %v: %w", step, f.id, f.opts, opa.ErrUnavailable)
	case "fail":
		return fmt.Errorf("%s %s with %v: authentication failed", step, f.id, f.opts)
	case "panic":
		panic(fmt.Sprintf("%s %s blew up with %v", step, f.id, f.opts))
	case "hang":
		<-f.calls.release
	}
	return nil
}

func (f *fake) Connect(context.Context) error { return f.step("connect") }
func (f *fake) Instance() any                 { return &fakeClient{ID: f.id} }

// fullFake adds Validate, Close and Util.
type fullFake struct{ *fake }

func (f fullFake) Validate(context.Context) error { return f.step("validate") }
func (f fullFake) Close(context.Context) error    { return f.step("close") }
func (f fullFake) Util() any                      { return "util of " + f.id }

var (
	_ opa.Validator = fullFake{}
	_ opa.Closer    = fullFake{}
	_ opa.Utiler    = fullFake{}
)

// fakeDriver builds fake components that record into c.
func fakeDriver(name string, c *calls) opa.Driver {
	return opa.Driver{Name: name, New: func(opts opa.Options) (opa.Component, error) {
		f := &fake{id: fmt.Sprint(opts["id"]), opts: opts, calls: c}
		if err := f.step("new"); err != nil {
			return nil, err
		}
		if opts["bare"] == "yes" {
			return f, nil
		}
		return fullFake{f}, nil
	}}
}

// comp configures a fake component: id is its log name, kv are more OPTS.
func comp(load, driver, id string, kv ...string) opa.ComponentConfig {
	opts := opa.Options{"id": id}
	for i := 0; i+1 < len(kv); i += 2 {
		opts[kv[i]] = kv[i+1]
	}
	return opa.ComponentConfig{Load: load, Driver: driver, Opts: opts}
}

// driverPlugin is a plugin named "drv" giving the fake driver "fake".
func driverPlugin(c *calls) opa.Option {
	return opa.WithPlugin("drv", opa.Plugin{Drivers: []opa.Driver{fakeDriver("fake", c)}})
}

// ---- component tests

func TestComponentLoadTable(t *testing.T) {
	cases := []struct {
		name      string
		cc        opa.ComponentConfig
		wantErr   []string // empty: Startup succeeds
		wantState string
		wantCalls []string
		wantIs    error // what Component("c") wraps after a successful Startup; nil: it works
	}{
		{"auto connected, validate runs", comp("auto", "fake", "c"), nil, opa.StateConnected,
			[]string{"new:c", "connect:c", "validate:c"}, nil},
		{"empty LOAD is auto", comp("", "fake", "c"), nil, opa.StateConnected,
			[]string{"new:c", "connect:c", "validate:c"}, nil},
		{"auto connected without Validate", comp("auto", "fake", "c", "bare", "yes"), nil, opa.StateConnected,
			[]string{"new:c", "connect:c"}, nil},
		{"auto unavailable: no validate, no error", comp("auto", "fake", "c", "connect", "unavailable"), nil, opa.StateUnavailable,
			[]string{"new:c", "connect:c"}, opa.ErrUnavailable},
		{"auto connect error fails", comp("auto", "fake", "c", "connect", "fail"), []string{"component c (driver fake, plugin drv): connect: connect c with", "authentication failed"}, "failed",
			[]string{"new:c", "connect:c"}, nil},
		{"auto validate error fails", comp("auto", "fake", "c", "validate", "fail"), []string{"component c (driver fake, plugin drv): validate: validate c with", "authentication failed"}, "failed",
			[]string{"new:c", "connect:c", "validate:c", "close:c"}, nil},
		{"yes connected, validate runs", comp("yes", "fake", "c"), nil, opa.StateConnected,
			[]string{"new:c", "connect:c", "validate:c"}, nil},
		{"yes unavailable fails", comp("yes", "fake", "c", "connect", "unavailable"), []string{"component c (driver fake, plugin drv): Connect pre-check failed for fake", "connect: connect c"}, "failed",
			[]string{"new:c", "connect:c"}, nil},
		{"yes connect error fails", comp("yes", "fake", "c", "connect", "fail"), []string{"plugin drv", "connect: connect c", "authentication failed"}, "failed",
			[]string{"new:c", "connect:c"}, nil},
		{"yes validate error fails", comp("yes", "fake", "c", "validate", "fail"), []string{"plugin drv", "validate: validate c", "authentication failed"}, "failed",
			[]string{"new:c", "connect:c", "validate:c", "close:c"}, nil},
		{"no: never built", comp("no", "fake", "c"), nil, opa.StateDisabled, nil, opa.ErrUnavailable},
		{"no: never built, even with an unknown driver", comp("no", "nosuchdriver", "c"), nil, opa.StateDisabled, nil, opa.ErrUnavailable},
		{"unknown driver with auto fails", comp("auto", "nosuchdriver", "c"),
			[]string{"Invalid driver specified (nosuchdriver), no way to handle it", "[fake]"}, "failed", nil, nil},
		{"unknown driver with yes fails", comp("yes", "nosuchdriver", "c"),
			[]string{"Invalid driver specified (nosuchdriver), no way to handle it"}, "failed", nil, nil},
		{"driver name is case-insensitive", comp("yes", "FaKe", "c"), nil, opa.StateConnected,
			[]string{"new:c", "connect:c", "validate:c"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls(t)
			cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"c": tc.cc}}
			m, err := startMgr(t, cfg, nil, driverPlugin(c))
			assert.Equal(t, tc.wantCalls, c.get())
			rep := m.Report()
			require.Len(t, rep.Components, 1)
			assert.Equal(t, tc.wantState, rep.Components[0].State)
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				for _, s := range tc.wantErr {
					assert.Contains(t, err.Error(), s)
				}
				assert.Equal(t, err.Error(), rep.Error)
				return
			}
			require.NoError(t, err)
			got, err := m.Component("c")
			if tc.wantIs != nil {
				assert.ErrorIs(t, err, tc.wantIs)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, &fakeClient{ID: "c"}, got.Instance())
		})
	}
}

func TestComponentUnknownDriverIsNotFound(t *testing.T) {
	_, err := startMgr(t, opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"c": comp("auto", "nope", "c")}}, nil)
	assert.ErrorIs(t, err, opa.ErrNotFound)
}

func TestComponentDriverRegistration(t *testing.T) {
	c := newCalls(t)
	other := opa.Driver{Name: "FAKE", New: func(opa.Options) (opa.Component, error) { return nil, errors.New("never") }}
	shared := fakeDriver("fake", c)
	cases := []struct {
		name    string
		opts    []opa.Option
		wantErr []string
	}{
		{"two different drivers with one name, any case", []opa.Option{
			opa.WithPlugin("a", opa.Plugin{Drivers: []opa.Driver{fakeDriver("fake", c)}}),
			opa.WithPlugin("b", opa.Plugin{Drivers: []opa.Driver{other}}),
		}, []string{"Driver with this name (fake) already exists", "CaSe of driver is ignored.", "plugin a", "plugin b"}},
		{"the same driver value from two plugins is an error too: list it in one", []opa.Option{
			opa.WithPlugin("a", opa.Plugin{Drivers: []opa.Driver{shared}}),
			opa.WithPlugin("b", opa.Plugin{Drivers: []opa.Driver{shared}}),
		}, []string{"Driver with this name (fake) already exists", "plugin a", "plugin b"}},
		{"a driver without a name", []opa.Option{
			opa.WithPlugin("a", opa.Plugin{Drivers: []opa.Driver{{New: shared.New}}}),
		}, []string{"plugin a", "a driver has no Name"}},
		{"a driver without New", []opa.Option{
			opa.WithPlugin("a", opa.Plugin{Drivers: []opa.Driver{{Name: "x"}}}),
		}, []string{"plugin a", `driver "x" has no New func`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := startMgr(t, opa.Config{}, nil, tc.opts...)
			if tc.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			var pe *opa.PluginError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "drivers", pe.Step)
			for _, s := range tc.wantErr {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestComponentDriverSameClosureDifferentState(t *testing.T) {
	var opts []opa.Option
	for _, name := range []string{"a", "b"} { // one call site: one func literal, whatever the inliner does
		opts = append(opts, opa.WithPlugin(name, opa.Plugin{Drivers: []opa.Driver{fakeDriver("fake", newCalls(t))}}))
	}
	_, err := startMgr(t, opa.Config{}, nil, opts...)
	assert.ErrorContains(t, err, "Driver with this name (fake) already exists")
}

func TestComponentNamesAreLowerCasedAndConnectSorted(t *testing.T) {
	c := newCalls(t)
	cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
		"zeta": comp("yes", "fake", "zeta", "bare", "yes"),
		"Beta": comp("yes", "Fake", "beta", "bare", "yes"),
		"alfa": comp("yes", "FAKE", "alfa", "bare", "yes"),
	}}
	m, err := startMgr(t, cfg, nil, driverPlugin(c))
	require.NoError(t, err)
	assert.Equal(t, []string{"new:alfa", "connect:alfa", "new:beta", "connect:beta", "new:zeta", "connect:zeta"}, c.get(),
		"connect in sorted (lower-case) name order")
	for _, name := range []string{"beta", "Beta", "BETA"} {
		got, err := opa.InstanceOf[*fakeClient](m, name)
		require.NoError(t, err, name)
		assert.Equal(t, "beta", got.ID)
	}
	var states []string
	for _, cr := range m.Report().Components {
		states = append(states, strings.ToLower(cr.Name)+"="+cr.State)
	}
	assert.Equal(t, []string{"alfa=connected", "beta=connected", "zeta=connected"}, states)
}

func TestComponentTimeoutAndPanics(t *testing.T) {
	cases := []struct {
		name      string
		cc        opa.ComponentConfig
		wantErr   []string
		wantCalls []string
	}{
		{"hanging connect", comp("auto", "fake", "c", "connect", "hang"), []string{"component c", "connect: did not return within 50ms"}, []string{"new:c", "connect:c"}},
		// Not closed while Validate runs: once it returns (below).
		{"hanging validate", comp("auto", "fake", "c", "validate", "hang"), []string{"validate: did not return within 50ms"}, []string{"new:c", "connect:c", "validate:c"}},
		{"hanging new", comp("auto", "fake", "c", "new", "hang"), []string{"new: did not return within 50ms"}, []string{"new:c"}},
		{"panic in new", comp("auto", "fake", "c", "new", "panic"), []string{"component c", "new: panicked", "new c blew up"}, []string{"new:c"}},
		{"panic in connect", comp("auto", "fake", "c", "connect", "panic"), []string{"connect: panicked"}, []string{"new:c", "connect:c"}},
		{"panic in validate", comp("yes", "fake", "c", "validate", "panic"), []string{"validate: panicked"}, []string{"new:c", "connect:c", "validate:c", "close:c"}},
		{"error in new", comp("auto", "fake", "c", "new", "fail"), []string{"component c (driver fake, plugin drv): new: new c with"}, []string{"new:c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls(t)
			// A hanging step meets the 50ms timeout: its error is the
			// event. A step that returns must not race a timeout on a
			// loaded machine (-race, 2 cores): it gets a long one.
			timeout := time.Minute
			if strings.HasPrefix(tc.name, "hanging") {
				timeout = 50 * time.Millisecond
			}
			cfg := opa.Config{ComponentTimeout: timeout, OptionalComponents: map[string]opa.ComponentConfig{"c": tc.cc}}
			done := make(chan error, 1)
			go func() {
				_, err := startMgr(t, cfg, nil, driverPlugin(c))
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatalf("StartupSimple did not return: waited for the component timeout (%v) to end the %s", timeout, tc.name)
			}
			require.Error(t, err)
			for _, s := range tc.wantErr {
				assert.Contains(t, err.Error(), s)
			}
			assert.Equal(t, tc.wantCalls, c.get())
			if tc.name == "hanging connect" || tc.name == "hanging validate" {
				// The step Startup stopped waiting for returns (nil): the
				// component it connected is closed then, not left open.
				c.unhang()
				require.Eventually(t, func() bool { return slices.Contains(c.get(), "close:c") }, time.Minute, 5*time.Millisecond,
					"the component is closed once its late %s returns", strings.TrimPrefix(tc.name, "hanging "))
				assert.Equal(t, append(slices.Clone(tc.wantCalls), "close:c"), c.get())
			}
		})
	}
}

func TestComponentAccessors(t *testing.T) {
	c := newCalls(t)
	cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
		"db":    comp("yes", "fake", "db"),
		"bare":  comp("yes", "fake", "bare", "bare", "yes"),
		"gone":  comp("auto", "fake", "gone", "connect", "unavailable"),
		"off":   comp("no", "fake", "off"),
		"cache": comp("auto", "fake", "cache"),
	}}
	m, err := startMgr(t, cfg, nil, driverPlugin(c))
	require.NoError(t, err)
	t.Cleanup(func() { opa.SetDefault(nil) })

	type getter func(name string) (any, error)
	pkg := map[string]getter{
		"GetComponent": func(n string) (any, error) { return opa.GetComponent(n) },
		"GetInstance":  opa.GetInstance,
		"Instance[T]":  func(n string) (any, error) { return opa.Instance[*fakeClient](n) },
		"GetUtil":      opa.GetUtil,
	}
	mgr := map[string]getter{
		"Component":     func(n string) (any, error) { return m.Component(n) },
		"Instance":      m.Instance,
		"InstanceOf[T]": func(n string) (any, error) { return opa.InstanceOf[*fakeClient](m, n) },
		"Util":          m.Util,
	}
	opa.SetDefault(nil)
	for name, get := range pkg {
		_, err := get("db")
		assert.ErrorIs(t, err, opa.ErrState, "%s before a default manager", name)
	}
	opa.SetDefault(m)
	for _, set := range []map[string]getter{pkg, mgr} {
		for name, get := range set {
			t.Run(name, func(t *testing.T) {
				v, err := get("DB")
				require.NoError(t, err)
				assert.NotNil(t, v)
				_, err = get("nope")
				assert.ErrorIs(t, err, opa.ErrNotFound)
				assert.ErrorContains(t, err, "Defined components are: [bare cache db gone off]")
				_, err = get("gone")
				assert.ErrorIs(t, err, opa.ErrUnavailable)
				assert.ErrorContains(t, err, "Defined components are: [bare cache db gone off]")
				_, err = get("off")
				assert.ErrorIs(t, err, opa.ErrUnavailable)
				assert.ErrorContains(t, err, "Defined components are: [bare cache db gone off]")
			})
		}
	}
	inst, err := opa.Instance[*fakeClient]("db")
	require.NoError(t, err)
	assert.Equal(t, "db", inst.ID)
	_, err = opa.Instance[string]("db")
	assert.ErrorContains(t, err, "*opa_test.fakeClient, not string")
	u, err := opa.GetUtil("db")
	require.NoError(t, err)
	assert.Equal(t, "util of db", u)
	_, err = m.Util("bare")
	assert.ErrorIs(t, err, opa.ErrNotFound)
	assert.ErrorContains(t, err, "has no Util")
	got, err := opa.GetComponent("cache")
	require.NoError(t, err)
	assert.IsType(t, fullFake{}, got)
}

// Finding a connected component, as a handler does on every request,
// allocates nothing (the list of defined names is made for errors only).
func TestComponentLookupDoesNotAllocate(t *testing.T) {
	c := newCalls(t)
	cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
		"db":    comp("yes", "fake", "db"),
		"cache": comp("yes", "fake", "cache"),
	}}
	m, err := startMgr(t, cfg, nil, driverPlugin(c))
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Component("db"); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs, "Component of a connected component allocates")
}
