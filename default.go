package opa

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
)

// defaultManager is the Manager the package-level functions use: that of
// the last package-level Startup or StartupSimple (also while it runs, and
// after it failed), or the one given to SetDefault.
var defaultManager atomic.Pointer[Manager]

// defaultHooks is the hook table the default Manager serves now: nil
// while it serves none (no default, not started yet, failed, shut down).
// HookFunc looks names up in it, and the HookHandles are bound to it
// (rebindHandles). It is kept in step with defaultManager by setDefault and
// Manager.setState, under defaultMu.
var defaultHooks atomic.Pointer[hookTable]

// defaultMu serialises the writers of defaultManager and defaultHooks
// (readers load them without a lock).
var defaultMu sync.Mutex

// setDefault makes m the default Manager.
func setDefault(m *Manager) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	defaultManager.Store(m)
	setDefaultHooks(m.servedHooks())
}

// setDefaultHooks stores t as defaultHooks and, if it changed, rebinds the
// HookHandles to it. The caller holds defaultMu.
func setDefaultHooks(t *hookTable) {
	if defaultHooks.Swap(t) != t {
		rebindHandles(t)
	}
}

// setState makes st what m serves, and returns what it served before. If m
// is the default Manager, defaultHooks follows.
func (m *Manager) setState(st *state) *state {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	old := m.st.Swap(st)
	if defaultManager.Load() == m {
		setDefaultHooks(m.servedHooks())
	}
	return old
}

// servedHooks is the hook table m serves, or nil (also for a nil m).
func (m *Manager) servedHooks() *hookTable {
	if m == nil {
		return nil
	}
	if st := m.st.Load(); st != nil {
		return st.hooks
	}
	return nil
}

// defaultStarting is set while a package-level Startup runs, so that only
// one runs at a time.
var defaultStarting atomic.Bool

// Startup makes a Manager with opts, makes it the default that the
// package-level functions use, and starts it with r (see Manager.Startup).
//
// The default is set before the Manager starts, as opa-stack assigns its
// global plugin_manager first: during Startup, GetManager returns the
// Manager being started, and the package-level functions answer from it as
// soon as what they need is ready: CallHook and HookFunc once the hooks are
// registered (in a component's Connect and in setups), GetComponent,
// GetInstance, Instance and GetUtil once the components are connected (in
// setups). If Startup fails they answer "the manager did not start", with
// why (an error wrapping ErrState), and GetManager returns the failed Manager, whose Report
// says why (a config error gives a Manager whose Report holds only it).
//
// One Startup runs at a time: a call while another runs, or while the
// default is started, is an error wrapping ErrState (call Shutdown first).
func Startup(r chi.Router, opts ...Option) error {
	return StartupContext(context.Background(), r, opts...)
}

// StartupContext is Startup with a context, as Manager.Startup takes one:
// cancelling ctx (on SIGTERM, with signal.NotifyContext) stops a slow
// Startup, in a component's Connect, in a setup, or between steps, and rolls
// back what was started (the components connected so far are closed, in
// reverse order, under a fresh deadline). The error then wraps ctx's error.
// ctx is passed on to Connect, Validate and the setups; it is not kept
// after Startup returns.
func StartupContext(ctx context.Context, r chi.Router, opts ...Option) error {
	return startDefault(opts, func(m *Manager) error { return m.Startup(ctx, r) })
}

// StartupSimple is Startup without a router (see Manager.StartupSimple), for
// workers and tools.
func StartupSimple(opts ...Option) error {
	return startDefault(opts, func(m *Manager) error { return m.StartupSimple(context.Background()) })
}

func startDefault(opts []Option, start func(*Manager) error) error {
	if !defaultStarting.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: another opa.Startup is running", ErrState)
	}
	defer defaultStarting.Store(false)
	if old := defaultManager.Load(); old != nil && old.st.Load() != nil {
		return fmt.Errorf("%w: the default manager is already started: call Shutdown first", ErrState)
	}
	m, err := New(opts...)
	if err != nil {
		setDefault(failedManager(err))
		return err
	}
	setDefault(m)
	return start(m)
}

// failedManager is a Manager that never started because New failed with
// err: its Report holds the error.
func failedManager(err error) *Manager {
	m := &Manager{log: slog.Default(), phase: phaseFailed}
	m.report.Store(&Report{State: phaseFailed.String(), Error: err.Error()})
	return m
}

// Shutdown shuts the default Manager down (see Manager.Shutdown). If ctx
// expires first it returns an error wrapping ctx's error, while the
// components go on closing.
func Shutdown(ctx context.Context) error {
	m, err := defaultOrErr()
	if err != nil {
		return err
	}
	return m.Shutdown(ctx)
}

// SetDefault makes m the default Manager that the package-level functions
// (CallHook, HookFunc, GetComponent, ...) use, for hosts that make their
// Manager with New. A nil m clears the default.
func SetDefault(m *Manager) { setDefault(m) }

// GetManager returns the default Manager: the one of the last package-level
// Startup or StartupSimple, also a failed one (its Report says why), and the
// one being started while Startup runs (setups and a component's Connect may
// use it); or the one given to SetDefault; nil before.
func GetManager() *Manager { return defaultManager.Load() }

// defaultOrErr returns the default Manager, or an error wrapping ErrState
// if there is none yet (no Startup, no SetDefault).
func defaultOrErr() (*Manager, error) {
	if m := defaultManager.Load(); m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("%w: opa.Startup has not been called (a host using opa.New calls opa.SetDefault)", ErrState)
}

// CallHook calls the winning hook of name on the default Manager; see
// Manager.CallHook.
func CallHook(name string, args ...any) ([]any, error) {
	if t := defaultHooks.Load(); t != nil {
		if e := t.find(name); e != nil {
			return e.call(args)
		}
	}
	m, err := defaultOrErr() // says why not
	if err != nil {
		return nil, err
	}
	return m.CallHook(name, args...)
}

// HookFunc returns the winning hook of name on the default Manager as its
// own func type F, to call at the speed of a direct call; see HookFuncOf.
func HookFunc[F any](name string) (F, error) {
	if t := defaultHooks.Load(); t != nil {
		if e := t.find(name); e != nil {
			if f, ok := e.fn.(F); ok {
				return f, nil
			}
		}
	}
	m, err := defaultOrErr() // says why not
	if err != nil {
		var zero F
		return zero, err
	}
	return HookFuncOf[F](m, name)
}

// GetComponent returns a component of the default Manager; see
// Manager.Component.
func GetComponent(name string) (Component, error) {
	m, err := defaultOrErr()
	if err != nil {
		return nil, err
	}
	return m.Component(name)
}

// GetInstance returns the Instance of a component of the default Manager;
// see Manager.Instance.
func GetInstance(name string) (any, error) {
	m, err := defaultOrErr()
	if err != nil {
		return nil, err
	}
	return m.Instance(name)
}

// Instance returns the Instance of a component of the default Manager as a
// T; see InstanceOf.
func Instance[T any](name string) (T, error) {
	m, err := defaultOrErr()
	if err != nil {
		var zero T
		return zero, err
	}
	return InstanceOf[T](m, name)
}

// GetUtil returns the Util of a component of the default Manager; see
// Manager.Util.
func GetUtil(name string) (any, error) {
	m, err := defaultOrErr()
	if err != nil {
		return nil, err
	}
	return m.Util(name)
}

// ReportHandler serves the default Manager's report as Manager.ReportHandler
// does (a page for a browser, JSON for anything else), also that of a
// failed Startup, which says why; before any Startup it answers 503.
func ReportHandler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := defaultManager.Load()
		if m == nil {
			http.Error(w, "opa: not started", http.StatusServiceUnavailable)
			return
		}
		serveReport(w, r, m.ReportWithStatus(r.Context()))
	}
}
