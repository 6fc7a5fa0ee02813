package opa_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// greetFn is a named hook type, as a plugin author would declare it.
type greetFn func(name string) string

func def(name string, fn any) opa.HookDefinition { return opa.HookDefinition{Name: name, Func: fn} }

func hook(name string, order int, fn any) opa.Hook {
	return opa.Hook{Name: name, Order: order, Func: fn}
}

// says returns a greet hook that answers with its plugin's name.
func says(who string) func(string) string { return func(string) string { return who } }

func TestHookRegistrationErrors(t *testing.T) {
	str := (func(string) string)(nil)
	cases := []struct {
		name    string
		plugins []opa.Option
		want    []string // substrings of the error
		plugin  string   // the plugin of the first *PluginError; empty: not a PluginError
		count   string   // a substring that must occur exactly once
	}{
		{
			name: "duplicate definition names both plugins",
			plugins: []opa.Option{
				opa.WithPlugin("a", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", str)}}),
				opa.WithPlugin("b", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", str)}}),
			},
			want:   []string{`There can only be 1 hook-definition per hook-name. "greet" is already registered`, "plugin a", "plugin b"},
			plugin: "b",
		},
		{
			name: "hook without definition names its plugin",
			plugins: []opa.Option{
				opa.WithPlugin("a", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", str)}}),
				opa.WithPlugin("b", opa.Plugin{Hooks: []opa.Hook{hook("gret", 0, says("b"))}}),
			},
			want:   []string{`There are no hook-definition for hook "gret", are you using the correct name?`, "plugin b"},
			plugin: "b",
		},
		{
			name: "required definitions without hooks: one error listing all",
			plugins: []opa.Option{
				opa.WithPlugin("defs", opa.Plugin{HookDefinitions: []opa.HookDefinition{
					{Name: "b", Required: true}, {Name: "c", Required: true}, {Name: "a", Required: true}, {Name: "d"},
				}}),
				opa.WithPlugin("impl", opa.Plugin{Hooks: []opa.Hook{hook("c", 0, func() {})}}),
			},
			want:  []string{"Hooks that should be registered: [a b]", "plugin defs"},
			count: "Hooks that should be registered",
		},
		{
			name: "hook of another type than its definition",
			plugins: []opa.Option{
				opa.WithPlugin("a", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", str)}}),
				opa.WithPlugin("b", opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, func(int) string { return "" })}}),
			},
			want:   []string{`hook "greet" has type func(int) string`, "wants func(string) string", "plugin a", "plugin b"},
			plugin: "b",
		},
		{
			name: "named type against another signature",
			plugins: []opa.Option{
				opa.WithPlugin("a", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", greetFn(nil))}}),
				opa.WithPlugin("b", opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, func(string) (string, error) { return "", nil })}}),
			},
			want:   []string{"func(string) (string, error)", "opa_test.greetFn"},
			plugin: "b",
		},
		{
			name: "definition Func that is not a func",
			plugins: []opa.Option{
				opa.WithPlugin("a", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", "func(string) string")}}),
			},
			want:   []string{`hook definition "greet": Func must be a typed nil func`, "got string"},
			plugin: "a",
		},
		{
			name:    "definition without a name",
			plugins: []opa.Option{opa.WithPlugin("a", opa.Plugin{HookDefinitions: []opa.HookDefinition{{}}})},
			want:    []string{"a hook definition has no Name"},
			plugin:  "a",
		},
		{
			name: "hook Func that is not a func",
			plugins: []opa.Option{
				opa.WithPlugin("a", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", nil)}}),
				opa.WithPlugin("b", opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, 42)}}),
			},
			want:   []string{`hook "greet": Func must be a non-nil func, got int`},
			plugin: "b",
		},
		{
			name: "hook Func that is a nil func",
			plugins: []opa.Option{
				opa.WithPlugin("a", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", str)}}),
				opa.WithPlugin("b", opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, str)}}),
			},
			want:   []string{"must be a non-nil func"},
			plugin: "b",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := startMgr(t, opa.Config{}, nil, tc.plugins...)
			require.Error(t, err)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
			if tc.plugin != "" {
				var pe *opa.PluginError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tc.plugin, pe.Plugin)
				assert.Equal(t, "hooks", pe.Step)
				assert.True(t, strings.HasSuffix(pe.Path, "/"+tc.plugin), pe.Path)
			}
			if tc.count != "" {
				assert.Equal(t, 1, strings.Count(err.Error(), tc.count), err.Error())
			}
			assert.Equal(t, err.Error(), m.Report().Error)
		})
	}
}

func TestHookWinner(t *testing.T) {
	greet := opa.WithPlugin("0defs", opa.Plugin{HookDefinitions: []opa.HookDefinition{def("greet", (func(string) string)(nil))}})
	cases := []struct {
		name    string
		plugins []opa.Option
		want    string // what the winner says
		plugin  string // the winner's plugin
	}{
		{"the only hook", []opa.Option{opa.WithPlugin("a", opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, says("a"))}})}, "a", "a"},
		{"highest order wins, registered first", []opa.Option{
			opa.WithPlugin("a", opa.Plugin{Hooks: []opa.Hook{hook("greet", 5, says("a"))}}),
			opa.WithPlugin("b", opa.Plugin{Hooks: []opa.Hook{hook("greet", 1, says("b"))}}),
		}, "a", "a"},
		{"highest order wins, registered last", []opa.Option{
			opa.WithPlugin("a", opa.Plugin{Hooks: []opa.Hook{hook("greet", -1, says("a"))}}),
			opa.WithPlugin("b", opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, says("b"))}}),
		}, "b", "b"},
		{"a tie goes to the last in discovery order (sorted by name, not option order)", []opa.Option{
			opa.WithPlugin("zed", opa.Plugin{Hooks: []opa.Hook{hook("greet", 3, says("zed"))}}),
			opa.WithPlugin("alpha", opa.Plugin{Hooks: []opa.Hook{hook("greet", 3, says("alpha"))}}),
			opa.WithPlugin("mid", opa.Plugin{Hooks: []opa.Hook{hook("greet", 3, says("mid"))}}),
		}, "zed", "zed"},
		{"a tie within one plugin goes to the later hook", []opa.Option{
			opa.WithPlugin("a", opa.Plugin{Hooks: []opa.Hook{hook("greet", 0, says("first")), hook("greet", 0, says("second"))}}),
		}, "second", "a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := startMgr(t, opa.Config{}, nil, append([]opa.Option{greet}, tc.plugins...)...)
			require.NoError(t, err)
			res, err := m.CallHook("greet", "x")
			require.NoError(t, err)
			assert.Equal(t, []any{tc.want}, res)
			rep := m.Report().Hooks
			require.Len(t, rep, 1)
			assert.Equal(t, "0defs", rep[0].DefinedBy)
			assert.Equal(t, "func(string) string", rep[0].Type)
			assert.Equal(t, tc.plugin, rep[0].Plugin)
		})
	}
}

func TestHookTypes(t *testing.T) {
	cases := []struct {
		name string
		def  any
		impl any
		args []any
		want []any
	}{
		{"a func literal is accepted for a named definition type", greetFn(nil), func(s string) string { return "hi " + s }, []any{"ada"}, []any{"hi ada"}},
		{"a named func is accepted for an unnamed definition type", (func(string) string)(nil), greetFn(func(s string) string { return "yo " + s }), []any{"ada"}, []any{"yo ada"}},
		{"definition Func nil accepts any func", nil, func(a, b int) int { return a + b }, []any{2, 3}, []any{5}},
		{"definition Func nil accepts a func with no results", nil, func() {}, nil, []any{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := startMgr(t, opa.Config{}, nil, opa.WithPlugin("p", opa.Plugin{
				HookDefinitions: []opa.HookDefinition{def("h", tc.def)},
				Hooks:           []opa.Hook{hook("h", 0, tc.impl)},
			}))
			require.NoError(t, err)
			res, err := m.CallHook("h", tc.args...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, res)
		})
	}

	t.Run("HookFuncOf finds a literal under its named definition type", func(t *testing.T) {
		m, err := startMgr(t, opa.Config{}, nil, opa.WithPlugin("p", opa.Plugin{
			HookDefinitions: []opa.HookDefinition{def("h", greetFn(nil))},
			Hooks:           []opa.Hook{hook("h", 0, func(s string) string { return "hi " + s })},
		}))
		require.NoError(t, err)
		f, err := opa.HookFuncOf[greetFn](m, "h")
		require.NoError(t, err)
		assert.Equal(t, "hi bob", f("bob"))
	})
}
