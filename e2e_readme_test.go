package opa_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// These tests run the README's host (testdata/readmehost): the package-level
// opa.Startup, opa.CallHook and opa.Shutdown, with real .so plugins, over
// real HTTP.

func TestRealReadmeHost(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "p/hello.so")
	s.place("greeter", "p/greeter/plugin.so")
	s.place("fullname", "p/fullname.so")
	s.place("fullnamehi", "p/fullnamehi.so")
	s.place("kv", "p/kv.so")
	s.place("probe", "p/probe.so")
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"),
		"OPA_OPTIONAL_COMPONENTS__STORE__DRIVER=kv", "OPA_OPTIONAL_COMPONENTS__STORE__OPTS__PREFIX=n",
		"OPA_OPTIONAL_COMPONENTS__PROBE__DRIVER=probe", "OPA_OPTIONAL_COMPONENTS__PROBE__OPTS__NAME=probe")
	h := s.serve()

	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/hello", 200, "hello from a plugin"},
		{"/hello/setup", 200, "added by a setup"},
		{"/get-fullname/ada/lovelace", 200, "Hello ADA LOVELACE"},               // opa.HookFunc in a plugin
		{"/call/fullname?arg=ada&arg=lovelace", 200, `["ADA LOVELACE"]` + "\n"}, // opa.CallHook in the host
		{"/call/nope", 500, "nope"},
		{"/kv", 200, "n1"}, // opa.Instance in a plugin
		{"/kv", 200, "n2"},
	} {
		code, body := h.get(tc.path)
		assert.Equal(t, tc.code, code, tc.path)
		assert.Contains(t, body, tc.body, tc.path)
	}
	_, probe := h.get("/probe")
	assert.Equal(t, []string{
		"connect probe: GetManager is the manager being started: true",
		"connect probe: CallHook: [echo from connect] ok",
		"connect probe: GetComponent: ErrState: opa: wrong state: component probe is not connected yet: Startup is connecting it now",
		"setup: GetManager is the manager being started: true",
		"setup: CallHook: [echo from setup] ok",
		"setup: GetInstance: instance of probe ok",
	}, strings.Split(probe, "\n"), "the package-level functions during opa.Startup")

	code, body := h.get("/opa/report")
	require.Equal(t, 200, code, body)
	var rep opa.Report
	require.NoError(t, json.Unmarshal([]byte(body), &rep), body)
	var loaded []string
	for _, p := range rep.Plugins {
		if p.Loaded {
			loaded = append(loaded, p.Name)
		}
	}
	assert.Equal(t, []string{"fullname", "fullnamehi", "greeter", "hello", "kv", "probe"}, loaded)

	stderr := h.stop()
	assert.Contains(t, stderr, "probe: closed probe", "opa.Shutdown closes the components")
	assert.Contains(t, stderr, "readmehost: Shutdown: <nil>")
	assert.Contains(t, stderr, `"GET http://`, "the host's middleware logs plugin routes too")
}

// TestRealReadmeHostFailedStartup: log.Fatal(err) of a failed opa.Startup
// says why, and the host exits.
func TestRealReadmeHostFailedStartup(t *testing.T) {
	s := newSandbox(t)
	s.place("greeter", "p/greeter/plugin.so") // defines the required hook fullname, which nobody provides
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
	ctx, cancel := context.WithTimeout(context.Background(), readmeDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.fixtures, "readmehost"))
	cmd.Env = append(cleanEnv(), s.env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the host exits with an error (a context deadline means it never did); output:\n%s", out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "Hooks that should be registered: [fullname]")
	assert.NotContains(t, string(out), "listening on")
}

// TestReadmeCompleteHostIsTestdata checks that the README's complete host
// is testdata/readmemain/main.go word for word, so that the tests below run
// what the README shows.
func TestReadmeCompleteHostIsTestdata(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("testdata/readmemain/main.go")
	require.NoError(t, err)
	block := "```go\n" + string(src) + "```\n"
	assert.True(t, strings.Contains(string(readme), block),
		"README.md must hold testdata/readmemain/main.go as a ```go block, word for word")
}

// TestRealReadmeCompleteHost runs the README's complete host (as written
// there: testdata/readmemain) with real plugins, sends it SIGTERM, and
// checks that it stopped the server, then closed the components, and exited
// cleanly.
func TestRealReadmeCompleteHost(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "p/hello.so")
	s.place("probe", "p/probe.so")
	s.setenv("ADDR=127.0.0.1:0", "OPA_PLUGIN_PATHS="+s.path("p"),
		"OPA_OPTIONAL_COMPONENTS__PROBE__DRIVER=probe", "OPA_OPTIONAL_COMPONENTS__PROBE__OPTS__NAME=probe")
	h := s.serveFixture("readmemain")
	code, body := h.get("/hello")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "hello from a plugin")
	code, _ = h.get("/opa/report")
	assert.Equal(t, 200, code)

	out := h.stop() // SIGTERM, then a clean exit (status 0)
	assert.Contains(t, out, "probe: closed probe", "opa.Shutdown closed the components")
	assert.Contains(t, out, `"GET http://`, "the host's middleware logs plugin routes too")
}
