package opa

import "sync/atomic"

// HookHandle is a typed handle on a hook of the default Manager, made with
// HookRef and safe to keep in a package-level var:
//
//	var greet = opa.HookRef[GreetFunc]("greet")
//
//	f, err := greet.Func()
//
// The hook is resolved on the first Func after Startup, then cached: a
// later Func costs two atomic loads and a compare. It is resolved again
// when the default Manager changes (a new Startup after Shutdown, or
// SetDefault). A HookHandle is safe from many goroutines.
type HookHandle[F any] struct {
	name string
	// bound is the func resolved from one hook table, which never changes
	// once built: while the default Manager serves that table, fn is right.
	bound atomic.Pointer[boundHook[F]]
}

// boundHook is a HookHandle's func and the hook table it came from.
type boundHook[F any] struct {
	table *hookTable
	fn    F
}

// HookRef returns a handle on the hook name of the default Manager, with
// the hook's func type F (its definition's Func type). It resolves nothing
// yet: a HookRef in a package-level var, made before Startup, is fine.
func HookRef[F any](name string) *HookHandle[F] {
	return &HookHandle[F]{name: name}
}

// Name returns the hook name the handle refers to.
func (h *HookHandle[F]) Name() string { return h.name }

// Func returns the winning hook as F. Before Startup of the default
// Manager, after its Shutdown or a failed Startup, it returns an error
// wrapping ErrState and a nil F; a name no loaded plugin implements is an
// error wrapping ErrNotFound, and a hook of another type than F one
// wrapping ErrBadCall. It never returns a nil F with a nil error.
func (h *HookHandle[F]) Func() (F, error) {
	// b.table is never nil, and defaultHooks is nil unless the default
	// Manager serves hooks: equal, the cached func is the right one.
	if b := h.bound.Load(); b != nil && b.table == defaultHooks.Load() {
		return b.fn, nil
	}
	return h.resolve()
}

// resolve is Func when the cached func is missing or stale: it looks the
// hook up on the default Manager and caches a func found (never an error).
func (h *HookHandle[F]) resolve() (F, error) {
	var zero F
	m, err := defaultOrErr()
	if err != nil {
		return zero, err
	}
	t, err := m.hooks()
	if err != nil {
		return zero, err
	}
	e, err := t.lookup(h.name)
	if err != nil {
		return zero, err
	}
	fn, err := hookAs[F](e)
	if err != nil {
		return zero, err
	}
	h.bound.Store(&boundHook[F]{table: t, fn: fn})
	return fn, nil
}
