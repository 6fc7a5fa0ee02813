package opa

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStrayPins: a PLUGIN_SHA256 name that pins no .so plugin found is a
// WARN line (a settings file may pin another host's plugins); one near the
// name of an unpinned plugin also leaves a note on that plugin, which loads
// unpinned; a pin on a compiled-in plugin does not apply and says so. The
// .so placeholders are blacklisted, so nothing is opened: a filtered plugin
// is still found.
func TestStrayPins(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "p/hello.so", "p/world.so")
	sum := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name  string
		pins  map[string]string
		warns []string // the WARN lines, each as msg and attributes
		note  string   // hello's note
	}{
		{name: "every pin names a plugin found", pins: map[string]string{"hello": sum, "world": sum}},
		{name: "a typo of an unpinned plugin's name", pins: map[string]string{"helo": sum, "world": sum},
			warns: []string{`msg="opa: PLUGIN_SHA256 pins a plugin that was not found; a plugin of a near name has no pin" plugin=helo did_you_mean=hello`},
			note:  `not pinned: PLUGIN_SHA256 pins "helo", which is no plugin found here (did you mean "hello"?)`},
		{name: "a near name that has its own pin", pins: map[string]string{"helo": sum, "hello": sum},
			warns: []string{`msg="opa: PLUGIN_SHA256 pins a plugin that was not found" plugin=helo`}},
		{name: "no name near", pins: map[string]string{"faraway": sum},
			warns: []string{`msg="opa: PLUGIN_SHA256 pins a plugin that was not found" plugin=faraway`}},
		{name: "a compiled-in plugin", pins: map[string]string{"greeter": sum},
			warns: []string{`msg="opa: PLUGIN_SHA256 pins a compiled-in plugin; it is part of the host binary, so the pin does not apply" plugin=greeter`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			m, err := New(WithConfig(Config{PluginPaths: []string{root + "/p"}, DefaultPluginPath: root + "/default",
				BlacklistRE: root + "/p/", PluginSHA256: tc.pins}),
				WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))),
				WithPlugin("greeter", Plugin{}))
			require.NoError(t, err)
			require.NoError(t, m.StartupSimple(t.Context()))
			var warns []string
			for line := range strings.Lines(log.String()) {
				_, rest, _ := strings.Cut(strings.TrimSpace(line), " level=WARN ")
				warns = append(warns, rest)
			}
			assert.Equal(t, tc.warns, warns)
			rep := m.Report()
			require.Len(t, rep.Plugins, 3)
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
