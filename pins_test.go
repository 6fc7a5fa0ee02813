package opa

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStrayPins: a PLUGIN_SHA256 name that pins no .so plugin found is a
// warning in the report and a WARN line (a settings file may pin another
// host's plugins); one near the name of an unpinned plugin also leaves a
// note on that plugin, which is not pinned; a pin on a compiled-in plugin
// does not apply and says so. Pins are found as PinKey finds them (the
// name, then lower-cased), and only a winning candidate counts: a shadowed
// file is never loaded. The .so placeholders are blacklisted, so nothing
// is opened: a filtered plugin is still found.
func TestStrayPins(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "p/hello.so", "p/World.so", "p/twin.so")
	sum := strings.Repeat("ab", 32)
	pins := func(names ...string) map[string]string {
		out := map[string]string{}
		for _, n := range names {
			out[n] = sum
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		pins          map[string]string
		builtinsFirst bool     // the default path (and so the compiled-in twin) before p
		warns         []string // Report.Warnings
		note          string   // hello's note
	}{
		{name: "every pin names a plugin found, one lower-cased", pins: pins("hello", "world", "twin")},
		{name: "a typo of an unpinned plugin's name", pins: pins("helo", "world"),
			warns: []string{`PLUGIN_SHA256 pins "helo", which is no .so plugin found here (did you mean "hello"? it has no pin)`},
			note:  `not pinned: PLUGIN_SHA256 pins "helo", which is no .so plugin found here (did you mean "hello"?)`},
		{name: "two typos of one name", pins: pins("helo", "hllo"),
			warns: []string{
				`PLUGIN_SHA256 pins "helo", which is no .so plugin found here (did you mean "hello"? it has no pin)`,
				`PLUGIN_SHA256 pins "hllo", which is no .so plugin found here (did you mean "hello"? it has no pin)`,
			},
			note: `not pinned: PLUGIN_SHA256 pins "helo", which is no .so plugin found here (did you mean "hello"?). ` +
				`not pinned: PLUGIN_SHA256 pins "hllo", which is no .so plugin found here (did you mean "hello"?)`},
		{name: "a near name that has its own pin", pins: pins("helo", "hello"),
			warns: []string{`PLUGIN_SHA256 pins "helo", which is no .so plugin found here`}},
		{name: "no name near", pins: pins("faraway"),
			warns: []string{`PLUGIN_SHA256 pins "faraway", which is no .so plugin found here`}},
		{name: "compiled-in plugins, one named in upper case", pins: pins("greeter", "shouter"),
			warns: []string{
				`PLUGIN_SHA256 pins "greeter", a compiled-in plugin: it is part of the host binary, so the pin does not apply`,
				`PLUGIN_SHA256 pins "shouter", a compiled-in plugin: it is part of the host binary, so the pin does not apply`,
			}},
		{name: "a file shadowed by a compiled-in plugin", pins: pins("twin"), builtinsFirst: true,
			warns: []string{`PLUGIN_SHA256 pins "twin", a compiled-in plugin: it is part of the host binary, so the pin does not apply`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			paths := []string{root + "/p"}
			if tc.builtinsFirst {
				paths = []string{root + "/default", root + "/p"}
			}
			m, err := New(WithConfig(Config{PluginPaths: paths, DefaultPluginPath: root + "/default",
				BlacklistRE: root + "/p/", PluginSHA256: tc.pins}),
				WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))),
				WithPlugin("greeter", Plugin{}), WithPlugin("Shouter", Plugin{}), WithPlugin("twin", Plugin{}))
			require.NoError(t, err)
			require.NoError(t, m.StartupSimple(t.Context()))
			rep := m.Report()
			assert.Equal(t, tc.warns, rep.Warnings)
			assertWarned(t, log.String(), tc.warns)
			require.Len(t, rep.Plugins, 6)
			for _, p := range rep.Plugins {
				want := ""
				if p.Name == "hello" {
					want = tc.note
				}
				assert.Equal(t, want, p.Note, p.Name)
			}
		})
	}
}

// assertWarned checks that log holds exactly one WARN line per warning,
// each with its text.
func assertWarned(t *testing.T, log string, warnings []string) {
	t.Helper()
	assert.Equal(t, len(warnings), strings.Count(log, "level=WARN"), log)
	for _, w := range warnings {
		assert.Contains(t, log, strconv.Quote("opa: "+w), "logged as the WARN line's msg")
	}
}
