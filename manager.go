package opa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/opa-stack/opa-go/internal/settings"
)

// Manager discovers, filters and loads plugins, and owns what they provide:
// hooks, drivers, components, routes and setups. Make one with New, start it
// with Startup or StartupSimple and stop it with Shutdown. Its hooks and
// components are safe to use from many goroutines once started.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	builtins []namedRegistration
	red      *redactor
	settings string           // where the settings came from, for the report
	hostDefs []HookDefinition // DefineHook's, then WithHooks'
	mounting mounting         // how plugin routes are wrapped
	reloads  reloadCounts     // CountReload

	mu    sync.Mutex // serialises Startup and Shutdown
	phase phase

	// st is what the Manager serves. Startup sets it in two stages, so that
	// plugins may use the Manager while it starts: once the hooks are
	// registered (components not ready), and once the components are
	// connected. It is cleared when Startup fails and at Shutdown.
	st     atomic.Pointer[state]
	loaded atomic.Pointer[[]*loaded] // set once the plugins are registered, before components connect
	report atomic.Pointer[Report]    // the latest report, even after a failed Startup
	// routes are the plugin routes mounted on the host router, to see
	// whether the host replaced one after Startup (see Report).
	routes atomic.Pointer[hostRoutes]
	// running is set while Startup runs, so that a call before the hooks
	// are registered says so (see started).
	running atomic.Bool
}

// state is what a Manager serves; a state never changes once stored.
type state struct {
	plugins    []*loaded
	hooks      *hookTable
	components map[string]*component
	connected  []*component // in connect order
	serving    serving      // how far Startup has come
	// connecting is, while Startup connects the components, the one it
	// connects now; components then holds copies of those before it, which
	// Component answers for (a component may use one that sorts before it).
	connecting string
}

// serving is what a state serves, in the order Startup makes it ready.
type serving int

const (
	servingHooks      serving = iota // the hooks are registered; no component yet
	servingConnecting                // the components before connecting are connected
	servingAll                       // every component is connected (or left out)
)

func (s serving) String() string {
	switch s {
	case servingHooks:
		return "hooks"
	case servingConnecting:
		return "connecting components"
	case servingAll:
		return "everything"
	}
	return fmt.Sprintf("serving(%d)", int(s))
}

type phase int

const (
	phaseNew phase = iota
	phaseStarting
	phaseStarted
	phaseFailed
	phaseStopped
)

func (p phase) String() string {
	names := [...]string{"new", "starting", "started", "failed", "stopped"}
	if p < 0 || int(p) >= len(names) {
		return fmt.Sprintf("phase(%d)", int(p))
	}
	return names[p]
}

// New makes a Manager; it is the only way to make one (a zero Manager
// reports nothing and refuses to start with an error wrapping ErrState). Its
// config is the one given WithConfig, or else LoadConfig of the viper given
// WithViper (or of a fresh one). A bad config is an error wrapping
// ErrConfig.
func New(opts ...Option) (*Manager, error) {
	var s options
	for _, o := range opts {
		o(&s)
	}
	seen := map[string]bool{}
	for _, b := range s.builtins {
		if err := checkName(b.name); err != nil {
			return nil, fmt.Errorf("opa: WithPlugin(%q): %w", b.name, err)
		}
		if seen[b.name] {
			return nil, fmt.Errorf("opa: WithPlugin(%q): given twice", b.name)
		}
		seen[b.name] = true
	}
	hostDefs, err := hostDefinitions(s.hooks)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if s.config != nil {
		cfg = *s.config
		if err := cfg.validate(); err != nil {
			return nil, err
		}
	} else {
		if cfg, err = LoadConfig(s.viper); err != nil {
			return nil, err
		}
	}
	m := &Manager{cfg: cfg, log: s.logger, builtins: s.builtins, red: newRedactor(cfg.OptionalComponents), settings: settingsSource(s, os.Environ()), hostDefs: hostDefs}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.mounting = mounting{log: m.log, recover: !s.noRecover, timeMask: latencyMask(s.timeEvery), middleware: s.routeMiddleware}
	if cfg.AllowInsecurePermissions {
		m.log.Warn(insecureWarning)
	}
	m.report.Store(&Report{})
	return m, nil
}

// settingsSource says, for the report, where New took its settings from.
func settingsSource(s options, environ []string) string {
	if s.config != nil {
		return "the host's code (WithConfig)"
	}
	env := settings.Environ(environ)
	src := fmt.Sprintf("settings files in %s (sections default, %s, global), then OPA_ variables", settings.Dir(env), settings.Section(env))
	if s.viper != nil {
		src = "the host's viper, then " + src
	}
	return src
}

// Startup discovers, filters and loads plugins, registers their hook
// definitions, hooks and drivers, connects the optional components, mounts
// every plugin's Router on r and runs every Setup with r, in that order.
//
// It is all or nothing: if a step fails, the components already connected
// are closed in reverse order (under a fresh deadline) and the error names
// the step and the plugin. A Manager starts once.
//
// ctx bounds Startup: when it ends (a SIGTERM caught with
// signal.NotifyContext), Startup stops between steps, stops waiting for a
// component's New, Connect or Validate and for a setup, rolls back as for a
// failed step, and returns an error wrapping ctx's error. A Connect or
// setup that honours its ctx returns; one that does not is left to finish
// on its own goroutine.
//
// While it runs, the Manager already answers what is ready: its hooks once
// they are registered (so a component's Connect may call them), each
// component once it is connected (so a component may use one that sorts
// before it by name, and setups may use them all). If Startup
// fails it answers nothing again: every call is an error wrapping ErrState,
// and Report says why.
func (m *Manager) Startup(ctx context.Context, r chi.Router) error {
	if r == nil || isNilPointer(r) {
		return fmt.Errorf("opa: Startup: the router is nil (use StartupSimple to start without one)")
	}
	return m.start(ctx, r)
}

// StartupSimple is Startup without a router: no routes are mounted and no
// setups run. It suits workers and tools that need hooks and components.
func (m *Manager) StartupSimple(ctx context.Context) error {
	return m.start(ctx, nil)
}

func (m *Manager) start(ctx context.Context, r chi.Router) error {
	if m.log == nil {
		return fmt.Errorf("%w: this Manager was not made with New", ErrState)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.phase != phaseNew {
		return fmt.Errorf("%w: Startup called on a manager in state %s (make a new one)", ErrState, m.phase)
	}
	m.phase = phaseStarting
	m.running.Store(true)
	defer m.running.Store(false)
	rep := &Report{}
	st, err := m.run(ctx, r, rep)
	if err != nil {
		err = m.red.wrap(err)
		rep.Error = err.Error()
		m.setState(nil)
		m.publishReport(rep, phaseFailed)
		m.phase = phaseFailed
		// Not logged: the error is returned, and the host logs it once.
		return err
	}
	m.publishReport(rep, phaseStarted)
	m.setState(st)
	m.phase = phaseStarted
	return nil
}

// run does the steps of Startup in order, filling rep as it goes.
func (m *Manager) run(ctx context.Context, r chi.Router, rep *Report) (_ *state, err error) {
	if err := startCancelled(ctx, "before loading the plugins"); err != nil {
		return nil, err
	}
	plugins, err := m.loadPlugins(rep)
	if err != nil {
		return nil, err
	}
	if err := startCancelled(ctx, "after loading the plugins"); err != nil {
		return nil, err
	}
	reg, err := m.register(r, plugins, rep)
	if err != nil {
		return nil, err
	}
	st := &state{plugins: reg.plugins, hooks: reg.hooks, components: map[string]*component{}}
	m.loaded.Store(&reg.plugins)
	// The hooks are ready: serve them (a component's Connect may call them).
	m.setState(&state{plugins: reg.plugins, hooks: reg.hooks})
	rep.Hooks = reg.hooks.report()
	defer func() {
		if err != nil {
			m.setState(nil)
			m.loaded.Store(nil)
		}
		if err != nil && len(st.connected) > 0 {
			if cerr := m.closeComponents(context.Background(), st.connected); cerr != nil {
				err = fmt.Errorf("%w; additionally, cleanup: %w", err, cerr)
			}
		}
		rep.Components = m.componentReports(st.components, err)
	}()
	if err := m.connectComponents(ctx, reg.drivers, st); err != nil {
		return nil, err
	}
	// The components are ready too: serve them (setups may use them).
	st.serving = servingAll
	m.setState(st)
	if r == nil {
		return st, nil
	}
	if err := startCancelled(ctx, "before mounting the routes"); err != nil {
		return nil, err
	}
	var mounted *hostRoutes
	defer func() {
		if err != nil {
			mounted.retire() // the routes stay on the router: they answer 503
			m.routes.Store(nil)
		}
	}()
	if rep.Routes, mounted, err = reg.routes.mount(r, m.mounting); err != nil {
		return nil, err
	}
	m.routes.Store(mounted)
	// Setups find the Manager with ManagerFrom(ctx).
	if err := m.runSetups(withManager(ctx, m), r, reg.plugins, rep); err != nil {
		return nil, err
	}
	return st, nil
}

// provided is what the loaded plugins provide, checked as a whole.
type provided struct {
	plugins []*loaded
	hooks   *hookTable
	drivers map[string]driverEntry
	routes  *routePlan // nil without a router
}

// register registers the hook definitions, hooks, tasks and drivers of the
// loaded plugins and plans their routes. With PLUGIN_ON_ERROR=skip, the
// plugins an error names are left out and the rest registered again, until
// nothing fails or what fails names no plugin (a missing required hook).
func (m *Manager) register(r chi.Router, plugins []*loaded, rep *Report) (*provided, error) {
	leftOut := m.leftOut(rep)
	for {
		reg, err := registerAll(r, m.hostDefs, plugins, leftOut)
		if err == nil {
			return reg, nil
		}
		bad := pluginErrors(err)
		if !m.skipping() || len(bad) == 0 {
			return nil, err
		}
		for _, lp := range plugins {
			if bad[lp.name] != nil {
				leftOut = append(leftOut, leftOutPlugin{name: lp.name, reason: "left out after an error (PLUGIN_ON_ERROR=skip)", defs: lp.plugin.HookDefinitions, known: true})
			}
		}
		for _, lp := range plugins {
			if bad[lp.name] != nil {
				m.skipLoaded(rep, lp, bad[lp.name])
			}
		}
		plugins = slices.DeleteFunc(plugins, func(lp *loaded) bool { return bad[lp.name] != nil })
	}
}

// leftOut lists the plugins that the report shows found but not loaded,
// other than shadowed ones, with the hook definitions of compiled-in ones,
// so that a hook whose definition one of them holds is explained.
func (m *Manager) leftOut(rep *Report) []leftOutPlugin {
	var out []leftOutPlugin
	builtins := m.allBuiltins()
	for _, p := range rep.Plugins {
		if p.Loaded || strings.HasPrefix(p.Reason, "shadowed by ") {
			continue
		}
		o := leftOutPlugin{name: p.Name, reason: p.Reason}
		if p.Builtin {
			if i := slices.IndexFunc(builtins, func(b namedRegistration) bool { return b.name == p.Name }); i >= 0 {
				o.defs, o.known = builtins[i].plugin.HookDefinitions, true
			}
		}
		out = append(out, o)
	}
	return out
}

func registerAll(r chi.Router, host []HookDefinition, plugins []*loaded, leftOut []leftOutPlugin) (*provided, error) {
	reg := &provided{plugins: plugins}
	var err error
	if reg.hooks, err = buildHooks(host, plugins, leftOut); err != nil {
		return nil, err
	}
	if err := checkTasks(plugins); err != nil {
		return nil, err
	}
	if reg.drivers, err = buildDrivers(plugins); err != nil {
		return nil, err
	}
	if r != nil {
		if reg.routes, err = planRoutes(r, plugins); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// pluginErrors finds the *PluginErrors in err (joined or wrapped), by plugin.
func pluginErrors(err error) map[string]error {
	out := map[string]error{}
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *PluginError:
			out[e.Plugin] = errors.Join(out[e.Plugin], e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// skipping reports whether PLUGIN_ON_ERROR is skip.
func (m *Manager) skipping() bool {
	mode, _ := normalizeOnError(m.cfg.OnError)
	return mode == OnErrorSkip
}

// skipLoaded records, on its own report, that a loaded plugin was left out
// after all.
func (m *Manager) skipLoaded(rep *Report, lp *loaded, err error) {
	err = m.red.wrap(err)
	m.log.Warn("opa: plugin left out (PLUGIN_ON_ERROR=skip)", "plugin", lp.name, "error", err)
	p := &rep.Plugins[lp.report]
	p.Loaded, p.Reason = false, err.Error()
	if pe, ok := errors.AsType[*PluginError](err); ok {
		p.Step = pe.Step
	}
}

// runSetups runs every Setup of every plugin, in plugin order. With
// PLUGIN_ON_ERROR=skip a failed setup is logged and reported on its plugin
// (whose routes are mounted already and stay), and the rest run.
func (m *Manager) runSetups(ctx context.Context, r chi.Router, plugins []*loaded, rep *Report) error {
	for _, lp := range plugins {
		for i, s := range lp.plugin.Setups {
			if err := startCancelled(ctx, "before the setups of plugin "+lp.name); err != nil {
				return err
			}
			err := callSetup(ctx, r, s)
			if err == nil {
				continue
			}
			perr := &PluginError{Plugin: lp.name, Path: lp.match, Step: fmt.Sprintf("setup %d", i+1), Err: err}
			if !m.skipping() {
				return perr
			}
			msg := m.red.scrub(perr.Error())
			m.log.Warn("opa: plugin setup failed (PLUGIN_ON_ERROR=skip)", "plugin", lp.name, "error", msg)
			rep.Plugins[lp.report].Error = msg
		}
	}
	return nil
}

// callSetup runs a setup and returns its error, or a panic turned into
// one. If ctx ends first it stops waiting and returns an error wrapping
// ctx's error; the setup's goroutine is left to finish on its own (it got
// ctx, and should return once ctx ends).
func callSetup(ctx context.Context, r chi.Router, s Setup) error {
	if s == nil {
		return errors.New("setup is a nil func")
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- &PanicError{Value: v}
			}
		}()
		done <- s(ctx, r)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("stopped waiting: the context of Startup ended while the setup ran: %w", context.Cause(ctx))
	}
}

// startCancelled returns an error wrapping ctx's error if ctx has ended,
// saying where Startup stopped.
func startCancelled(ctx context.Context, where string) error {
	if ctx.Err() == nil {
		return nil
	}
	return fmt.Errorf("opa: Startup stopped %s: its context ended: %w", where, context.Cause(ctx))
}

// Shutdown closes every connected component in reverse connect order, keeps
// going after an error and returns all errors joined. Each Close gets ctx's
// values and its own COMPONENT_TIMEOUT deadline, not ctx's cancellation, so
// every component gets its chance to close.
//
// If ctx expires first, Shutdown returns an error wrapping ctx's error, as
// http.Server.Shutdown does, while the remaining components go on closing
// in the background, each within COMPONENT_TIMEOUT.
//
// It is an error wrapping ErrState unless the Manager started. While
// Startup runs it returns that error at once, without waiting for Startup
// (which may be running the very setup or Connect that calls it): cancel
// Startup's ctx to stop it.
func (m *Manager) Shutdown(ctx context.Context) error {
	if m.running.Load() {
		return fmt.Errorf("%w: Shutdown called while Startup runs: cancel Startup's context (StartupContext) to stop it, or call Shutdown once it has returned", ErrState)
	}
	m.mu.Lock()
	if m.phase != phaseStarted {
		defer m.mu.Unlock()
		return fmt.Errorf("%w: Shutdown called on a manager in state %s", ErrState, m.phase)
	}
	m.phase = phaseStopped
	m.reportStopped()
	st := m.setState(nil)
	m.mu.Unlock()
	if len(st.connected) == 0 {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- m.closeComponents(ctx, st.connected) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // finished as ctx expired: report what happened
			return err
		default:
		}
		m.log.Warn("opa: Shutdown's context ended while components were closing; they go on closing in the background", "error", ctx.Err())
		return fmt.Errorf("opa: Shutdown: components were still closing when the context ended: %w", ctx.Err())
	}
}

// Logger returns the Manager's logger (WithLogger, or slog.Default()), for
// components that log on its behalf.
func (m *Manager) Logger() *slog.Logger { return m.log }

// Report returns what the Manager found and did; see Report. A zero
// Manager (not made with New) has an empty Report.
//
// The report of a started Manager shows each plugin's traffic (Stats) as
// it is at the call. Each call walks the host router of a started Manager: a plugin route
// that a host route added after Startup replaced is marked ReplacedByHost,
// with a warning (and a WARN line, once).
func (m *Manager) Report() Report {
	r := m.report.Load()
	if r == nil {
		return Report{}
	}
	rep := *r
	if m.st.Load() != nil { // started, or far enough in Startup
		m.routes.Load().markReplaced(&rep, func(msg string) { m.log.Warn(msg) })
		m.addTraffic(&rep)
	}
	return rep
}

// started returns the state the Manager serves: that of a started Manager,
// or of one whose Startup has got far enough (see Startup).
func (m *Manager) started() (*state, error) {
	st := m.st.Load()
	if st == nil {
		if rep := m.report.Load(); rep != nil && rep.Error != "" {
			return nil, fmt.Errorf("%w: the manager did not start: %s", ErrState, rep.Error)
		}
		if m.running.Load() {
			return nil, fmt.Errorf("%w: Startup is running; hooks are registered at step 2, after every plugin is loaded, and components connected at step 3: "+
				"call hooks from a component's Connect, a setup or a handler, not from a plugin's package-level vars or init", ErrState)
		}
		return nil, fmt.Errorf("%w: the manager is not started (call Startup first)", ErrState)
	}
	return st, nil
}

// hooks returns the hook table of a started Manager.
func (m *Manager) hooks() (*hookTable, error) {
	st, err := m.started()
	if err != nil {
		return nil, err
	}
	return st.hooks, nil
}

// componentReports lists every configured component in connect order.
func (m *Manager) componentReports(comps map[string]*component, failure error) []ComponentReport {
	cfg := m.cfg.OptionalComponents
	var out []ComponentReport
	for _, name := range componentNames(cfg) {
		cc := cfg[name]
		load, _ := normalizeLoad(cc.Load)
		cr := ComponentReport{Name: name, Driver: cc.Driver, Load: load, State: "not reached"}
		if c, ok := comps[strings.ToLower(name)]; ok {
			cr.Plugin = c.plugin
			cr.State = c.state
			if failure != nil && c.state == StateConnected {
				cr.State = StateClosed // the rollback closed it again
			}
			if c.err != nil {
				cr.Error = c.err.Error()
			}
			if c.state == "" || c.state == stateFailed {
				cr.State = stateFailed
				if failure != nil {
					cr.Error = m.red.scrub(failure.Error())
				}
			}
		}
		out = append(out, cr)
	}
	return out
}
