package opa_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// An unknown name given to CallHook, HookFunc, Component or Instance says
// which defined name is closest, when one is near.
func TestUnknownNamesSuggestTheClosest(t *testing.T) {
	t.Run("hooks", func(t *testing.T) {
		m, err := startMgr(t, opa.Config{}, nil, callPlugins()...)
		require.NoError(t, err)
		opa.SetDefault(m)
		t.Cleanup(func() { opa.SetDefault(nil) })
		lookups := map[string]func(name string) error{
			"CallHook":         func(n string) error { _, err := m.CallHook(n, "x"); return err },
			"HookFuncOf":       func(n string) error { _, err := opa.HookFuncOf[greetFn](m, n); return err },
			"package CallHook": func(n string) error { _, err := opa.CallHook(n, "x"); return err },
			"package HookFunc": func(n string) error { _, err := opa.HookFunc[greetFn](n); return err },
		}
		for name, lookup := range lookups {
			t.Run(name, func(t *testing.T) {
				err := lookup("gret")
				assert.ErrorIs(t, err, opa.ErrNotFound)
				assert.ErrorContains(t, err, `no hook named "gret" (did you mean "greet"?); defined hooks: [`)
				err = lookup("Greet")
				assert.ErrorContains(t, err, `no hook named "Greet" (did you mean "greet"?)`, "hook names are case-sensitive")
				err = lookup("nothing-like-it")
				assert.ErrorIs(t, err, opa.ErrNotFound)
				assert.ErrorContains(t, err, `no hook named "nothing-like-it"; defined hooks: [`)
				assert.NotContains(t, err.Error(), "did you mean")
			})
		}
	})
	t.Run("components", func(t *testing.T) {
		c := newCalls(t)
		cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
			"cache": comp("yes", "fake", "cache"),
			"db":    comp("yes", "fake", "db"),
		}}
		m, err := startMgr(t, cfg, nil, driverPlugin(c))
		require.NoError(t, err)
		lookups := map[string]func(name string) error{
			"Component": func(n string) error { _, err := m.Component(n); return err },
			"Instance":  func(n string) error { _, err := m.Instance(n); return err },
		}
		for name, lookup := range lookups {
			t.Run(name, func(t *testing.T) {
				err := lookup("CAHCE")
				assert.ErrorIs(t, err, opa.ErrNotFound)
				assert.ErrorContains(t, err, `Component "CAHCE" is not defined (yet?) (did you mean "cache"?). Defined components are: [cache db]`)
				err = lookup("queue")
				assert.ErrorIs(t, err, opa.ErrNotFound)
				assert.NotContains(t, err.Error(), "did you mean")
			})
		}
	})
}

// A driver that declares its OPTS keys gets a component with another key
// refused before any of its code runs, with the same "did you mean" error.
func TestDriverOptsAreChecked(t *testing.T) {
	declaring := func(c *calls) opa.Option {
		d := fakeDriver("fake", c)
		d.Opts = []string{"id", "url", "bare"}
		return opa.WithPlugin("drv", opa.Plugin{Drivers: []opa.Driver{d}})
	}
	t.Run("an unknown key fails Startup before New", func(t *testing.T) {
		for _, load := range []string{"auto", "yes"} {
			t.Run(load, func(t *testing.T) {
				c := newCalls(t)
				cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
					"cache": comp(load, "fake", "cache", "urll", "redis://secret@cache"),
				}}
				_, err := startMgr(t, cfg, nil, declaring(c))
				require.Error(t, err)
				assert.ErrorIs(t, err, opa.ErrConfig)
				assert.ErrorContains(t, err, "component cache (driver fake, plugin drv): ")
				assert.ErrorContains(t, err, "unknown setting OPTIONAL_COMPONENTS.CACHE.OPTS.URLL (did you mean URL?)")
				ce, ok := errors.AsType[*opa.ConfigError](err)
				require.True(t, ok)
				assert.Equal(t, "OPTIONAL_COMPONENTS.CACHE.OPTS.URLL", ce.Key)
				assert.NotContains(t, err.Error(), "secret")
				assert.Empty(t, c.get(), "no driver code ran")
			})
		}
	})
	t.Run("declared keys, in any case, connect", func(t *testing.T) {
		c := newCalls(t)
		cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
			"cache": comp("yes", "fake", "cache", "URL", "redis://cache"),
		}}
		m, err := startMgr(t, cfg, nil, declaring(c))
		require.NoError(t, err)
		_, err = m.Component("cache")
		assert.NoError(t, err)
	})
	t.Run("a driver that declares nothing accepts any key", func(t *testing.T) {
		c := newCalls(t)
		cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
			"cache": comp("yes", "fake", "cache", "anything", "x"),
		}}
		_, err := startMgr(t, cfg, nil, driverPlugin(c))
		require.NoError(t, err)
	})
	t.Run("a component that is not built is not checked", func(t *testing.T) {
		c := newCalls(t)
		cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
			"cache": comp("no", "fake", "cache", "urll", "x"),
		}}
		_, err := startMgr(t, cfg, nil, declaring(c))
		require.NoError(t, err)
	})
}
