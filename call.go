package opa

import (
	"fmt"
	"reflect"
	"slices"
)

// CallHook calls the winning hook of name with args and returns its results.
// Wrong argument counts or types give an error wrapping ErrBadCall, a panic
// in the hook is returned as an error, and a name nobody implemented gives an
// error wrapping ErrNotFound. When the hook's last result is a non-nil error,
// that error is also returned, unchanged, as CallHook's error.
//
// CallHook is safe from many goroutines; for a typed call at the speed of a
// direct call, use HookFunc.
func (m *Manager) CallHook(name string, args ...any) ([]any, error) {
	t, err := m.hooks()
	if err != nil {
		return nil, err
	}
	if e := t.find(name); e != nil {
		return e.call(args)
	}
	_, err = t.lookup(name) // says why not
	return nil, err
}

// call calls the hook and counts the call, and an error, in its stats
// (HookStats). HookFunc and HookRef are not counted: they hand out the
// func itself.
func (e *hookEntry) call(args []any) ([]any, error) {
	e.stats.calls.Add(1)
	res, err := e.invoke(args)
	if err != nil {
		e.stats.errors.Add(1)
	}
	return res, err
}

// invoke is call without counting.
func (e *hookEntry) invoke(args []any) (res []any, err error) {
	// The arguments of most hooks fit in buf, on the stack.
	var buf [callArgsOnStack]reflect.Value
	in, err := e.convert(args, buf[:0])
	if err != nil {
		return nil, err
	}
	// recover is called only when the hook did not return (the "CallHook"
	// row of BENCHMARKS.md).
	returned := false
	defer func() {
		if returned {
			return
		}
		if v := recover(); v != nil {
			res, err = nil, fmt.Errorf("opa: hook %q (plugin %s): %w", e.name, e.plugin, &PanicError{Value: v})
		}
	}()
	out := e.val.Call(in)
	returned = true
	res = make([]any, len(out))
	for i, v := range out {
		res[i] = v.Interface()
	}
	if e.lastErr {
		if herr, _ := res[len(res)-1].(error); herr != nil {
			return res, herr
		}
	}
	return res, nil
}

// callArgsOnStack is how many arguments CallHook passes without allocating
// a slice for them.
const callArgsOnStack = 8

// convert checks args against the hook's parameters and returns them as
// values, appended to in.
func (e *hookEntry) convert(args []any, in []reflect.Value) ([]reflect.Value, error) {
	n := len(e.in)
	if (!e.variadic && len(args) != n) || (e.variadic && len(args) < n-1) {
		return nil, fmt.Errorf("%w: hook %q (plugin %s) is %s: it takes %d arguments, got %d",
			ErrBadCall, e.name, e.plugin, e.val.Type(), n, len(args))
	}
	in = slices.Grow(in, len(args))[:len(args)]
	for i, a := range args {
		want := e.paramType(i)
		// An argument of the parameter's own type, the common case, needs
		// no AssignableTo (the "CallHook" row of BENCHMARKS.md).
		if got := reflect.TypeOf(a); got != want {
			if a == nil {
				if !nillable(want) {
					return nil, fmt.Errorf("%w: hook %q (plugin %s): argument %d is nil, want %s", ErrBadCall, e.name, e.plugin, i+1, want)
				}
				in[i] = reflect.Zero(want)
				continue
			}
			if !got.AssignableTo(want) {
				return nil, fmt.Errorf("%w: hook %q (plugin %s): argument %d is %s, want %s", ErrBadCall, e.name, e.plugin, i+1, got, want)
			}
		}
		in[i] = reflect.ValueOf(a)
	}
	return in, nil
}

// paramType is the type of the hook's parameter that argument i goes to.
func (e *hookEntry) paramType(i int) reflect.Type {
	if e.variadic && i >= len(e.in)-1 {
		return e.elem
	}
	return e.in[i]
}

func nillable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Pointer, reflect.Slice, reflect.UnsafePointer:
		return true
	}
	return false
}

// HookFuncOf returns the winning hook of name in m as its own func type F,
// to call at the speed of a direct call. F must be the hook's type (its
// definition's Func type); anything else is an error naming both types.
// For a hook called on every request, keep a HookHandle (HookRef) instead
// of looking the name up on each call.
func HookFuncOf[F any](m *Manager, name string) (F, error) {
	var zero F
	t, err := m.hooks()
	if err != nil {
		return zero, err
	}
	e, err := t.lookup(name)
	if err != nil {
		return zero, err
	}
	return hookAs[F](e)
}

// hookAs returns a hook's func as F, or an error naming both types.
func hookAs[F any](e *hookEntry) (F, error) {
	f, ok := e.fn.(F)
	if !ok {
		var zero F
		return zero, fmt.Errorf("%w: hook %q (plugin %s) is %s, not %s", ErrBadCall, e.name, e.plugin, e.val.Type(), reflect.TypeFor[F]())
	}
	return f, nil
}
