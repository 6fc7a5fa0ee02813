package opa_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What a plugin gets wrong must not take the host down, and the
// package-level functions answer from the manager being started. Each test
// runs the test host as a child process with real .so plugins.

func TestRealTypedNilRouter(t *testing.T) {
	s := newSandbox(t)
	s.place("nilrouter", "p/nilrouter.so")
	s.place("hello", "p/hello.so")
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
	want := "opa: plugin nilrouter (" + s.path("p") + "/nilrouter): routes: its Router is a nil *chi.Mux"

	res := s.run()
	assert.Contains(t, res.StartupError, want, "the host lives and names the plugin")

	s.setenv("OPA_PLUGIN_ON_ERROR=skip")
	res = s.run("-get", "/hello")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, "hello from a plugin", res.Gets[0].Body, "the other plugins start")
	p := res.plugin(t, "nilrouter")
	assert.False(t, p.Loaded)
	assert.Contains(t, p.Reason, want)
}

func TestRealPanicInBindManager(t *testing.T) {
	s := newSandbox(t)
	s.place("probe", "p/probe.so")
	s.place("badbind", "p/badbind.so")
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"),
		"OPA_OPTIONAL_COMPONENTS__A__DRIVER=probe", "OPA_OPTIONAL_COMPONENTS__A__LOAD=yes", "OPA_OPTIONAL_COMPONENTS__A__OPTS__NAME=a",
		"OPA_OPTIONAL_COMPONENTS__B__DRIVER=badbind", "OPA_OPTIONAL_COMPONENTS__B__LOAD=yes")

	res := s.run()
	assert.Contains(t, res.StartupError, "opa: component b (driver badbind, plugin badbind): bind: panicked: badbind: BindManager blew up")
	assert.Contains(t, res.Stderr, "probe: closed a", "the component already connected is closed")
	states := map[string]string{}
	for _, c := range res.Report.Components {
		states[c.Name] = c.State
	}
	assert.Equal(t, map[string]string{"a": "closed", "b": "failed"}, states, "the report does not call a rolled-back component connected")

	s.setenv("OPA_PLUGIN_ON_ERROR=skip")
	res = s.run()
	require.Empty(t, res.StartupError, res.Stderr)
	require.Len(t, res.Report.Components, 2)
	assert.Equal(t, "connected", res.Report.Components[0].State)
	assert.Equal(t, "failed", res.Report.Components[1].State)
	assert.Contains(t, res.Report.Components[1].Error, "bind: panicked: badbind: BindManager blew up")
}

func TestRealPackageLevelFunctionsDuringStartup(t *testing.T) {
	s := newSandbox(t)
	s.place("probe", "p/probe.so")
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_OPTIONAL_COMPONENTS__PROBE__DRIVER=probe", "OPA_OPTIONAL_COMPONENTS__PROBE__OPTS__NAME=probe")

	// -restart: a first Startup and Shutdown, so a stale manager would be there to reach.
	res := s.run("-package", "-restart", "-get", "/probe")
	require.Empty(t, res.StartupError, res.Stderr)
	require.Len(t, res.Gets, 1)
	lines := strings.Split(res.Gets[0].Body, "\n")
	require.Len(t, lines, 12, res.Gets[0].Body) // two startups, three lines in Connect and three in the Setup
	for _, run := range [][]string{lines[:6], lines[6:]} {
		assert.Equal(t, []string{
			"connect probe: GetManager is the manager being started: true",
			"connect probe: CallHook: [echo from connect] ok",
			"connect probe: GetComponent: ErrState: opa: wrong state: component probe is not connected yet: Startup is connecting it now",
			"setup: GetManager is the manager being started: true",
			"setup: CallHook: [echo from setup] ok",
			"setup: GetInstance: instance of probe ok",
		}, run)
	}
}

func TestRealPackageLevelFailedStartup(t *testing.T) {
	s := newSandbox(t)
	s.place("probe", "p/probe.so")
	s.place("kv", "p/kv.so")
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"),
		"OPA_OPTIONAL_COMPONENTS__PROBE__DRIVER=probe", "OPA_OPTIONAL_COMPONENTS__PROBE__OPTS__NAME=probe",
		"OPA_OPTIONAL_COMPONENTS__ZZ__DRIVER=kv", "OPA_OPTIONAL_COMPONENTS__ZZ__LOAD=yes", "OPA_OPTIONAL_COMPONENTS__ZZ__OPTS__PREFIX=absent")

	res := s.run("-package", "-call", "probe.echo")
	require.Contains(t, res.StartupError, "Connect pre-check failed for KV")
	assert.False(t, res.NoManager, "GetManager returns the failed manager")
	assert.Equal(t, res.StartupError, res.Report.Error, "its Report says why")
	require.Len(t, res.Report.Plugins, 2, "its Report lists every plugin")
	for _, p := range res.Report.Plugins {
		assert.True(t, p.Loaded, p.Name)
	}
	require.Len(t, res.Calls, 1)
	assert.Contains(t, res.Calls[0].Error, "opa: wrong state", "after a failed Startup the package-level functions say it did not start")
	assert.Contains(t, res.Calls[0].Error, "Connect pre-check failed for KV")
	assert.Contains(t, res.Stderr, "probe: closed probe")
}

func TestRealUnreadableMetaIsAnError(t *testing.T) {
	for _, tc := range []struct{ name, meta, want string }{
		{"tags not a list", `{"tags": "demo"}`, `"tags" must be a list of strings, got a string`},
		{"invalid JSON", `{"tags": [`, "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			s.place("hello", "p/hello.so")
			meta := s.write("p/hello-meta.json", tc.meta)
			s.place("kv", "p/kv/plugin.so")
			s.write("p/kv/meta.json", `{"tags": ["demo"]}`)
			// The whitelist would drop hello whatever its tags: its meta is still an error.
			s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_PLUGIN_WHITELIST_TAGS=demo")
			want := "opa: plugin hello (" + s.path("p") + "/hello): meta: meta file " + meta + ": " + tc.want

			res := s.run()
			assert.Contains(t, res.StartupError, want)

			s.setenv("OPA_PLUGIN_ON_ERROR=skip")
			res = s.run("-get", "/kv")
			require.Empty(t, res.StartupError, res.Stderr)
			hello := res.plugin(t, "hello")
			assert.False(t, hello.Loaded)
			assert.Equal(t, "meta", hello.Step)
			assert.Contains(t, hello.Reason, want)
			assert.True(t, res.plugin(t, "kv").Loaded)
		})
	}
}
