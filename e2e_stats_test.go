package opa_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// A panic in a .so plugin's handler, served by a real host process over
// HTTP: the client gets a 500, the log names the plugin, the method, the
// pattern and the panic, the plugin's panic counter reads 1, and the host
// serves on.
func TestRealPanicInPluginHandler(t *testing.T) {
	s := newSandbox(t)
	s.place("panicky", "p/panicky.so")
	s.place("hello", "p/hello.so")
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
	h := s.serve()

	code, body := h.get("/panicky/boom")
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Equal(t, "Internal Server Error\n", body, "the panic value is not sent to the client")

	code, body = h.get("/panicky/ok")
	assert.Equal(t, http.StatusOK, code, "the host serves on")
	assert.Equal(t, "still here", body)
	code, _ = h.get("/hello")
	assert.Equal(t, http.StatusOK, code, "and so do the other plugins")

	code, body = h.get("/opa/report")
	require.Equal(t, http.StatusOK, code, body)
	var rep opa.Report
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	traffic := map[string]opa.PluginTraffic{}
	for _, p := range rep.Plugins {
		if p.Traffic != nil {
			traffic[p.Name] = *p.Traffic
		}
	}
	assert.Equal(t, opa.PluginTraffic{Requests: 2, Status5xx: 1, Panics: 1}, zeroLatency(traffic["panicky"]))
	assert.Equal(t, opa.PluginTraffic{Requests: 1}, zeroLatency(traffic["hello"]))

	log := h.stop()
	assert.Contains(t, log, `ERROR opa: a handler of plugin panicky panicked plugin=panicky method=GET pattern=/panicky/boom path=/panicky/boom panic="panicky: kaboom" stack=`)
	assert.Contains(t, log, "plugins/panicky.router.func1", "the stack reaches the plugin's handler")
}

// zeroLatency is t without its latency figures, which are timing.
func zeroLatency(t opa.PluginTraffic) opa.PluginTraffic {
	t.P50ms, t.P99ms = 0, 0
	return t
}
