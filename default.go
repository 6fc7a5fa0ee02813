package opa

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
)

// defaultManager is the Manager of the last successful package-level
// Startup or StartupSimple.
var defaultManager atomic.Pointer[Manager]

// Startup makes a Manager with opts, starts it with r (see Manager.Startup)
// and, on success, makes it the default that the package-level functions
// use. On failure the previous default, if any, stays in place. It is an
// error wrapping ErrState to start while the default is still started: call
// Shutdown first.
func Startup(r chi.Router, opts ...Option) error {
	return startDefault(opts, func(m *Manager) error { return m.Startup(context.Background(), r) })
}

// StartupSimple is Startup without a router (see Manager.StartupSimple), for
// workers and tools.
func StartupSimple(opts ...Option) error {
	return startDefault(opts, func(m *Manager) error { return m.StartupSimple(context.Background()) })
}

func startDefault(opts []Option, start func(*Manager) error) error {
	if old := defaultManager.Load(); old != nil && old.st.Load() != nil {
		return fmt.Errorf("%w: the default manager is already started: call Shutdown first", ErrState)
	}
	m, err := New(opts...)
	if err != nil {
		return err
	}
	if err := start(m); err != nil {
		return err
	}
	defaultManager.Store(m)
	return nil
}

// Shutdown shuts the default Manager down (see Manager.Shutdown).
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
func SetDefault(m *Manager) { defaultManager.Store(m) }

// GetManager returns the default Manager: the one of the last successful
// package-level Startup or StartupSimple, or given to SetDefault; nil before.
func GetManager() *Manager { return defaultManager.Load() }

func defaultOrErr() (*Manager, error) {
	m := defaultManager.Load()
	if m == nil {
		return nil, fmt.Errorf("%w: opa.Startup has not succeeded yet", ErrState)
	}
	return m, nil
}

// CallHook calls the winning hook of name on the default Manager; see
// Manager.CallHook.
func CallHook(name string, args ...any) ([]any, error) {
	m, err := defaultOrErr()
	if err != nil {
		return nil, err
	}
	return m.CallHook(name, args...)
}

// HookFunc returns the winning hook of name on the default Manager as its
// own func type F, to call at the speed of a direct call; see HookFuncOf.
func HookFunc[F any](name string) (F, error) {
	m := defaultManager.Load()
	if m == nil {
		var zero F
		return zero, fmt.Errorf("%w: opa.Startup has not succeeded yet", ErrState)
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
// does: a page for a browser, JSON for anything else. Before a successful
// Startup it answers 503.
func ReportHandler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := defaultManager.Load()
		if m == nil {
			http.Error(w, "opa: not started", http.StatusServiceUnavailable)
			return
		}
		serveReport(w, r, m.Report())
	}
}
