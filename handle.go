package opa

import (
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
)

// HookHandle is a typed handle on a hook of the default Manager, made with
// HookRef and safe to keep in a package-level var:
//
//	var greet = opa.HookRef[GreetFunc]("greet")
//
//	f, err := greet.Func()
//
// Before Startup, Func returns an error wrapping ErrState. Once the default
// Manager serves hooks (from step 2 of Startup on, see the package doc),
// Func returns the winning hook; when the default Manager changes (a new
// Startup after Shutdown, SetDefault) it follows. A HookHandle is safe from
// many goroutines.
//
// The hook is looked up once per change of the default Manager's hook
// table, not on each Func, so that Func is one atomic load: small enough
// for the compiler to inline, which the row "hook through a HookRef handle"
// of BENCHMARKS.md depends on (a generic method with a call in it is
// never inlined).
type HookHandle[F any] struct {
	name string
	// bound is the hook looked up in the table the default Manager serves
	// now (defaultHooks), or the error of that lookup. Only rebind stores
	// it, under defaultMu.
	bound atomic.Pointer[boundHook[F]]
}

// boundHook is what a HookHandle's Func returns.
type boundHook[F any] struct {
	fn  F
	err error
}

// rebinder is a HookHandle of any func type.
type rebinder interface{ rebind(t *hookTable) }

// handleKey identifies a HookHandle: HookRef returns one handle per hook
// name and func type, so that a HookRef made on each request does not
// pile up handles.
type handleKey struct {
	name string
	typ  reflect.Type
}

// handles are the HookHandles HookRef made, rebound under defaultMu
// whenever defaultHooks changes.
var handles = map[handleKey]rebinder{}

// HookRef returns the handle on the hook name of the default Manager, with
// the hook's func type F (its definition's Func type). Made before Startup,
// in a package-level var, it is ready as soon as the default Manager serves
// hooks. HookRef returns the same handle for the same name and F.
func HookRef[F any](name string) *HookHandle[F] {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	key := handleKey{name, reflect.TypeFor[F]()}
	if h, ok := handles[key]; ok {
		return h.(*HookHandle[F])
	}
	h := &HookHandle[F]{name: name}
	h.rebind(defaultHooks.Load())
	handles[key] = h
	return h
}

// Name returns the hook name the handle refers to.
func (h *HookHandle[F]) Name() string { return h.name }

// Func returns the winning hook as F. Before Startup of the default
// Manager, while Startup loads the plugins, after its Shutdown or a failed
// Startup, it returns an error wrapping ErrState and a nil F; a name no
// loaded plugin implements is an error wrapping ErrNotFound, and a hook of
// another type than F one wrapping ErrBadCall. It never returns a nil F
// with a nil error. It does not allocate.
func (h *HookHandle[F]) Func() (F, error) {
	b := h.bound.Load()
	if b == nil { // a HookHandle not made with HookRef
		var zero F
		return zero, errZeroHandle
	}
	return b.fn, b.err
}

var errZeroHandle = errors.New("opa: a zero HookHandle: make it with opa.HookRef")

// rebind looks the hook up in t, the table the default Manager now serves
// (nil: none). The caller holds defaultMu.
func (h *HookHandle[F]) rebind(t *hookTable) {
	b := &boundHook[F]{}
	if t == nil {
		b.err = notServingError{}
	} else if e, err := t.lookup(h.name); err != nil {
		b.err = err
	} else {
		b.fn, b.err = hookAs[F](e)
	}
	h.bound.Store(b)
}

// rebindHandles rebinds every HookHandle to t. The caller holds defaultMu.
func rebindHandles(t *hookTable) {
	for _, h := range handles {
		h.rebind(t)
	}
}

// notServingError is a HookHandle's error while the default Manager serves
// no hooks. Its text says why, as of when it is read: no default Manager,
// Startup not called or still loading the plugins, a failed Startup, a
// Shutdown (the reasons the package-level functions give).
type notServingError struct{}

func (notServingError) Error() string {
	m, err := defaultOrErr()
	if err == nil {
		_, err = m.hooks()
	}
	if err == nil { // served again since
		return fmt.Sprintf("%v: the default manager served no hooks when Func was called", ErrState)
	}
	return err.Error()
}

// Unwrap returns ErrState.
func (notServingError) Unwrap() error { return ErrState }
