package opa_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

var errDivZero = errors.New("division by zero")

// callPlugins are a definitions plugin and an implementation plugin with one
// hook of each shape CallHook must handle.
func callPlugins() []opa.Option {
	defs := opa.Plugin{HookDefinitions: []opa.HookDefinition{
		def("greet", greetFn(nil)),
		def("sum", (func(...int) int)(nil)),
		def("join", (func(string, ...string) string)(nil)),
		def("div", (func(int, int) (int, error))(nil)),
		def("deref", (func(*int) int)(nil)),
		def("describe", (func(fmt.Stringer, error) string)(nil)),
		def("boom", (func() string)(nil)),
		def("count", (func([]string) int)(nil)),
		def("nobody", (func() string)(nil)),
	}}
	impl := opa.Plugin{Hooks: []opa.Hook{
		hook("greet", 0, func(s string) string { return "Hello " + s }),
		hook("sum", 0, func(xs ...int) int {
			n := 0
			for _, x := range xs {
				n += x
			}
			return n
		}),
		hook("join", 0, func(sep string, parts ...string) string { return strings.Join(parts, sep) }),
		hook("div", 0, func(a, b int) (int, error) {
			if b == 0 {
				return 0, fmt.Errorf("div %d: %w", a, errDivZero)
			}
			return a / b, nil
		}),
		hook("deref", 0, func(p *int) int {
			if p == nil {
				return -1
			}
			return *p
		}),
		hook("describe", 0, func(s fmt.Stringer, err error) string { return fmt.Sprint(s, " ", err) }),
		hook("boom", 0, func() string { panic("kaboom") }),
		hook("count", 0, func(xs []string) int { return len(xs) }),
	}}
	return []opa.Option{opa.WithPlugin("defs", defs), opa.WithPlugin("impl", impl)}
}

type stringer string

// names is a named []string: assignable to a []string parameter without
// being its type.
type names []string

func (s stringer) String() string { return "<" + string(s) + ">" }

func TestCallHook(t *testing.T) {
	m, err := startMgr(t, opa.Config{}, nil, callPlugins()...)
	require.NoError(t, err)
	seven := 7
	cases := []struct {
		name    string
		hook    string
		args    []any
		want    []any
		wantIs  error    // nil: no error unless wantErr
		wantErr []string // substrings of the error
	}{
		{"right args", "greet", []any{"ada"}, []any{"Hello ada"}, nil, nil},
		{"variadic, none", "sum", nil, []any{0}, nil, nil},
		{"variadic, several", "sum", []any{1, 2, 3}, []any{6}, nil, nil},
		{"fixed and variadic", "join", []any{"-", "a", "b"}, []any{"a-b"}, nil, nil},
		{"fixed only of a variadic", "join", []any{"-"}, []any{""}, nil, nil},
		{"results and nil error", "div", []any{6, 3}, []any{2, nil}, nil, nil},
		{"pointer", "deref", []any{&seven}, []any{7}, nil, nil},
		{"assignable, not the same type", "count", []any{names{"a", "b"}}, []any{2}, nil, nil},
		{"the parameter's own type", "count", []any{[]string{"a"}}, []any{1}, nil, nil},
		{"nil for a slice", "count", []any{nil}, []any{0}, nil, nil},
		{"nil for a pointer", "deref", []any{nil}, []any{-1}, nil, nil},
		{"interfaces, nil for an interface", "describe", []any{stringer("x"), nil}, []any{"<x> <nil>"}, nil, nil},
		{"hook error is returned unchanged with the results", "div", []any{1, 0}, []any{0, fmt.Errorf("div 1: %w", errDivZero)}, errDivZero, []string{"div 1: division by zero"}},
		{"too few args", "greet", nil, nil, opa.ErrBadCall, []string{`hook "greet" (plugin impl)`, "takes 1 arguments, got 0"}},
		{"too many args", "greet", []any{"a", "b"}, nil, opa.ErrBadCall, []string{"got 2"}},
		{"too few for a variadic", "join", nil, nil, opa.ErrBadCall, nil},
		{"wrong type", "greet", []any{42}, nil, opa.ErrBadCall, []string{"argument 1 is int, want string"}},
		{"wrong variadic type", "sum", []any{1, "2"}, nil, opa.ErrBadCall, []string{"argument 2 is string, want int"}},
		{"a slice is not spread into a variadic", "sum", []any{[]int{1, 2}}, nil, opa.ErrBadCall, nil},
		{"nil for a string", "greet", []any{nil}, nil, opa.ErrBadCall, []string{"argument 1 is nil, want string"}},
		{"nil for a variadic int", "sum", []any{1, nil}, nil, opa.ErrBadCall, nil},
		{"wrong interface", "describe", []any{"not a Stringer", nil}, nil, opa.ErrBadCall, nil},
		{"panicking hook", "boom", nil, nil, nil, []string{`hook "boom" (plugin impl): panicked: kaboom`}},
		{"defined but not implemented", "nobody", nil, nil, opa.ErrNotFound, []string{`hook "nobody" is defined by plugin defs`}},
		{"unknown name lists the defined hooks", "nope", nil, nil, opa.ErrNotFound,
			[]string{`no hook named "nope"`, "[boom count deref describe div greet join nobody sum]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var res []any
			require.NotPanics(t, func() { res, err = m.CallHook(tc.hook, tc.args...) })
			assert.Equal(t, tc.want, res)
			if tc.wantIs == nil && tc.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			if tc.wantIs != nil {
				assert.ErrorIs(t, err, tc.wantIs)
			}
			for _, s := range tc.wantErr {
				assert.Contains(t, err.Error(), s)
			}
		})
	}

	t.Run("the hook's own error value is returned", func(t *testing.T) {
		res, err := m.CallHook("div", 1, 0)
		require.Len(t, res, 2)
		assert.Same(t, res[1], err)
	})
}

func TestHookFuncOf(t *testing.T) {
	m, err := startMgr(t, opa.Config{}, nil, callPlugins()...)
	require.NoError(t, err)

	greet, err := opa.HookFuncOf[greetFn](m, "greet")
	require.NoError(t, err)
	assert.Equal(t, "Hello bob", greet("bob"))

	div, err := opa.HookFuncOf[func(int, int) (int, error)](m, "div")
	require.NoError(t, err)
	_, err = div(1, 0)
	assert.ErrorIs(t, err, errDivZero)

	cases := []struct {
		name   string
		get    func() error
		wantIs error
		want   []string
	}{
		{"wrong func type", func() error { _, err := opa.HookFuncOf[func(int) string](m, "greet"); return err },
			opa.ErrBadCall, []string{"opa_test.greetFn", "not func(int) string"}},
		{"the unnamed type of a named hook", func() error { _, err := opa.HookFuncOf[func(string) string](m, "greet"); return err },
			opa.ErrBadCall, []string{"is opa_test.greetFn, not func(string) string"}},
		{"not implemented", func() error { _, err := opa.HookFuncOf[func() string](m, "nobody"); return err }, opa.ErrNotFound, nil},
		{"unknown", func() error { _, err := opa.HookFuncOf[func() string](m, "nope"); return err }, opa.ErrNotFound, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.get()
			assert.ErrorIs(t, err, tc.wantIs)
			for _, s := range tc.want {
				assert.ErrorContains(t, err, s)
			}
		})
	}
}

func TestCallHookBeforeStartup(t *testing.T) {
	m := newMgr(t, opa.Config{}, callPlugins()...)
	t.Cleanup(func() { opa.SetDefault(nil) })
	cases := []struct {
		name string
		call func() error
	}{
		{"Manager.CallHook", func() error { _, err := m.CallHook("greet", "x"); return err }},
		{"HookFuncOf", func() error { _, err := opa.HookFuncOf[greetFn](m, "greet"); return err }},
		{"CallHook without default", func() error { opa.SetDefault(nil); _, err := opa.CallHook("greet", "x"); return err }},
		{"HookFunc without default", func() error { opa.SetDefault(nil); _, err := opa.HookFunc[greetFn]("greet"); return err }},
		{"CallHook, default not started", func() error { opa.SetDefault(m); _, err := opa.CallHook("greet", "x"); return err }},
		{"HookFunc, default not started", func() error { opa.SetDefault(m); _, err := opa.HookFunc[greetFn]("greet"); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, tc.call(), opa.ErrState)
		})
	}
}

func TestCallHookPackageLevel(t *testing.T) {
	m, err := startMgr(t, opa.Config{}, nil, callPlugins()...)
	require.NoError(t, err)
	opa.SetDefault(m)
	t.Cleanup(func() { opa.SetDefault(nil) })

	res, err := opa.CallHook("greet", "ada")
	require.NoError(t, err)
	assert.Equal(t, []any{"Hello ada"}, res)
	f, err := opa.HookFunc[greetFn]("greet")
	require.NoError(t, err)
	assert.Equal(t, "Hello bob", f("bob"))
	_, err = opa.HookFunc[func() int]("greet")
	assert.ErrorIs(t, err, opa.ErrBadCall)
}

func TestCallHookConcurrently(t *testing.T) {
	m, err := startMgr(t, opa.Config{}, nil, callPlugins()...)
	require.NoError(t, err)
	const goroutines = 64
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			for j := range 50 {
				name := fmt.Sprintf("g%d-%d", i, j)
				res, err := m.CallHook("greet", name)
				if err != nil || len(res) != 1 || res[0] != "Hello "+name {
					errs <- fmt.Errorf("CallHook: %v %v", res, err)
					return
				}
				f, err := opa.HookFuncOf[greetFn](m, "greet")
				if err != nil || f(name) != "Hello "+name {
					errs <- fmt.Errorf("HookFuncOf: %v", err)
					return
				}
				if _, err := m.CallHook("sum", i, "x"); !errors.Is(err, opa.ErrBadCall) {
					errs <- fmt.Errorf("bad call: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// TestHookFuncCallDoesNotAllocate: the typed call is a direct call of the
// winning hook's own func, so calling it allocates nothing (how fast it is
// belongs to BenchmarkHook*).
func TestHookFuncCallDoesNotAllocate(t *testing.T) {
	m, err := startMgr(t, opa.Config{}, nil, callPlugins()...)
	require.NoError(t, err)
	div, err := opa.HookFuncOf[func(int, int) (int, error)](m, "div")
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() { _, _ = div(6, 3) })
	assert.Zero(t, allocs, "a typed hook call allocates")
}
