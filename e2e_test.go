package opa_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests load real .so plugins in the test host, a child process.

func TestRealPluginsServeRoutesHooksAndSetups(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "p1/hello.so")
	s.place("greeter", "p1/greeter/plugin.so")
	s.write("p1/greeter/meta.json", `{"tags": ["web"], "version": "1.0"}`)
	s.place("fullname", "p1/fullname.so")
	s.place("fullnamehi", "p1/fullnamehi.so")
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p1"))

	res := s.run("-get", "/hello", "-get", "/hello/setup", "-get", "/get-fullname/ada/lovelace", "-call", "fullname:ada,lovelace")
	require.Empty(t, res.StartupError, res.Stderr)

	require.Len(t, res.Gets, 3)
	assert.Equal(t, hostGet{Path: "/hello", Status: 200, Body: "hello from a plugin", Host: "yes"}, res.Gets[0], "plugin route, host middleware applied")
	assert.Equal(t, "added by a setup", res.Gets[1].Body)
	assert.Equal(t, "Hello ADA LOVELACE", res.Gets[2].Body, "the hook with the highest Order wins")

	require.Len(t, res.Calls, 1)
	assert.Empty(t, res.Calls[0].Error)
	assert.Equal(t, []any{"ADA LOVELACE"}, res.Calls[0].Result)

	var names []string
	for _, p := range res.Report.Plugins {
		names = append(names, p.Name)
		assert.True(t, p.Loaded, p.Name)
	}
	assert.Equal(t, []string{"fullname", "fullnamehi", "greeter", "hello"}, names, "sorted within a path")
	g := res.plugin(t, "greeter")
	assert.Equal(t, s.path("p1")+"/greeter", g.Path)
	assert.Equal(t, []string{"web"}, g.Tags)
	assert.JSONEq(t, `"1.0"`, string(g.Meta["version"]), "unknown meta fields are kept for the report")
	require.Len(t, res.Report.Hooks, 1)
	assert.Equal(t, "fullnamehi", res.Report.Hooks[0].Plugin)
}

func TestRealPluginFirstPathWinsEvenWhenFiltered(t *testing.T) {
	s := newSandbox(t)
	s.place("greeter", "p1/greeter.so")
	s.place("fullname", "p1/x.so")
	s.place("fullnamehi", "p2/x.so")
	s.setenv(`OPA_PLUGIN_PATHS=["` + s.path("p1") + `","` + s.path("p2") + `"]`)

	res := s.run("-call", "fullname:ada,lovelace")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, []any{"ada lovelace"}, res.Calls[0].Result, "p1/x (fullname) wins over p2/x (fullnamehi)")
	assert.Equal(t, "shadowed by "+s.path("p1")+"/x", res.Report.Plugins[len(res.Report.Plugins)-1].Reason)

	// Filtering p1/x out does not bring p2/x in: the required hook is then missing.
	s.setenv("OPA_PLUGIN_BLACKLIST_LIST=" + s.path("p1") + "/x")
	res = s.run()
	assert.Contains(t, res.StartupError, "Hooks that should be registered: [fullname]")
	assert.Contains(t, res.StartupError, "greeter")
}

func TestRealFilteredOutPluginIsNeverOpened(t *testing.T) {
	s := newSandbox(t)
	s.place("initpanic", "p/initpanic.so")
	s.place("hello", "p/hello.so")
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_PLUGIN_BLACKLIST_RE=.*/init")

	res := s.run("-get", "/hello")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
	p := res.plugin(t, "initpanic")
	assert.False(t, p.Loaded)
	assert.Equal(t, "matches PLUGIN_BLACKLIST_RE", p.Reason)

	// The same layout without the filter opens it, and its init's panic
	// becomes an error naming the plugin.
	s.env = s.env[:len(s.env)-1]
	res = s.run()
	assert.Contains(t, res.StartupError, "plugin initpanic ("+s.path("p")+"/initpanic): open:")
	assert.Contains(t, res.StartupError, "initpanic: init ran")
	assert.Contains(t, res.plugin(t, "initpanic").Reason, "initpanic: init ran")
}

// TestRealInitPanicOpenedTwice: Go's runtime never finishes opening a
// plugin whose init panicked, and a second plugin.Open of the same path
// waits for ever. Opened in place, the same file by a second name (a
// symbolic link) in the same Startup, and the same file in a second
// Startup of the process, used to hang; each is refused at once, naming
// the panic. (With private copies a second name of a file is refused as a
// copy before it is opened, and a second Startup opens new copies.)
func TestRealInitPanicOpenedTwice(t *testing.T) {
	s := newSandbox(t)
	s.place("initpanic", "p/initpanic.so")
	require.NoError(t, os.Symlink("initpanic.so", s.path("p/second.so")))
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_PLUGIN_OPEN_IN_PLACE=true", "OPA_PLUGIN_ON_ERROR=skip")

	res := s.runWithin(2 * time.Minute)
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Contains(t, res.plugin(t, "initpanic").Reason, "initpanic: init ran")
	second := res.plugin(t, "second")
	assert.False(t, second.Loaded)
	assert.Contains(t, second.Reason, "initpanic: init ran")
	assert.Contains(t, second.Reason, "Go cannot open this file again in this process (its init did not finish): fix the plugin, then restart the host")

	s.env = s.env[:len(s.env)-1] // PLUGIN_ON_ERROR=fail: Startup fails, and -retry starts again
	require.NoError(t, os.Remove(s.path("p/second.so")))
	res = s.runWithin(2*time.Minute, "-package", "-retry")
	assert.Contains(t, res.StartupError, "Go cannot open this file again in this process", res.Stderr)
}

func TestRealPluginBadSymbol(t *testing.T) {
	for _, tc := range []struct{ fixture, want string }{
		{"nosym", "no exported symbol Plugin: declare `var Plugin = opa.Plugin{...}`"},
		{"wrongtype", "exported Plugin is a variable of type string, want a variable of type opa.Plugin"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			s := newSandbox(t)
			file := s.place(tc.fixture, "p/bad.so")
			s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
			res := s.run()
			assert.Contains(t, res.StartupError, "plugin bad ("+s.path("p")+"/bad): open: "+file+": ")
			assert.Contains(t, res.StartupError, tc.want)
			p := res.plugin(t, "bad")
			assert.False(t, p.Loaded)
			assert.Contains(t, p.Reason, tc.want)
		})
	}
}

func TestRealPluginTagsFromMeta(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "p/hello.so")
	s.write("p/hello-meta.json", `{"tags": ["greeting", "demo"]}`)
	s.place("kv", "p/kv/plugin.so")
	s.write("p/kv/meta.json", `{"tags": ["storage"]}`)
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_PLUGIN_WHITELIST_TAGS=demo")

	res := s.run("-get", "/hello", "-get", "/kv")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, 200, res.Gets[0].Status)
	assert.Equal(t, 404, res.Gets[1].Status, "kv is not loaded, so its route is not there")
	assert.Equal(t, []string{"greeting", "demo"}, res.plugin(t, "hello").Tags)
	assert.Equal(t, "no tag in PLUGIN_WHITELIST_TAGS", res.plugin(t, "kv").Reason)
}

func TestRealComponentFromPluginDriver(t *testing.T) {
	s := newSandbox(t)
	s.place("kv", "p/kv.so")
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_OPTIONAL_COMPONENTS__STORE__DRIVER=kv")

	t.Run("connected", func(t *testing.T) {
		s := *s
		s.setenv("OPA_OPTIONAL_COMPONENTS__STORE__OPTS__PREFIX=n")
		res := s.run("-get", "/kv", "-get", "/kv")
		require.Empty(t, res.StartupError, res.Stderr)
		assert.Equal(t, "n1", res.Gets[0].Body)
		assert.Equal(t, "n2", res.Gets[1].Body)
		require.Len(t, res.Report.Components, 1)
		assert.Equal(t, "connected", res.Report.Components[0].State)
		assert.Equal(t, "kv", res.Report.Components[0].Plugin)
	})
	t.Run("auto and not there", func(t *testing.T) {
		s := *s
		s.setenv("OPA_OPTIONAL_COMPONENTS__STORE__OPTS__PREFIX=absent")
		res := s.run("-get", "/kv")
		require.Empty(t, res.StartupError, res.Stderr)
		assert.Equal(t, 503, res.Gets[0].Status)
		assert.Contains(t, res.Gets[0].Body, "nobody home")
		assert.Equal(t, "unavailable", res.Report.Components[0].State)
	})
	t.Run("yes and not there", func(t *testing.T) {
		s := *s
		s.setenv("OPA_OPTIONAL_COMPONENTS__STORE__OPTS__PREFIX=absent", "OPA_OPTIONAL_COMPONENTS__STORE__LOAD=yes")
		res := s.run()
		assert.Contains(t, res.StartupError, "Connect pre-check failed for KV")
	})
}

func TestRealRouteConflictWithHost(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "p/hello.so")
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
	res := s.run("-host-route", "/hello")
	assert.Contains(t, res.StartupError, "plugin hello ("+s.path("p")+"/hello): routes: GET /hello is already served by the host")
}

func TestRealBuiltinIsShadowedByPathPlugin(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "p/hello.so")
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
	res := s.run("-register", "hello:demo", "-register", "other:demo", "-get", "/hello", "-get", "/other")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
	assert.Equal(t, "builtin other", res.Gets[1].Body)
	require.Len(t, res.Report.Plugins, 3)
	assert.Equal(t, "shadowed by "+s.path("p")+"/hello", res.Report.Plugins[1].Reason)
	other := res.plugin(t, "other")
	assert.True(t, other.Builtin)
	assert.Equal(t, s.path("default")+"/other", other.Path, "matched as <default path>/NAME")
	assert.Equal(t, []string{"demo"}, other.Tags)
}

func TestRealHostWithNoConfiguration(t *testing.T) {
	s := newSandbox(t)
	res := s.run("-get", "/hello")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Empty(t, res.Report.Plugins)
	assert.Equal(t, 404, res.Gets[0].Status)
	assert.Contains(t, res.Stderr, "no plugins found")
}
