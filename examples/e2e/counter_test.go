package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/opa-stack/opa-go"
)

// redisPassword is the password of the tests' Redis servers. It must never
// show in the host's output: opa redacts the OPTS value of a key "password".
const redisPassword = "s3cret-redis-pw"

// noSecret fails the test if the host printed the password anywhere.
func noSecret(t *testing.T, h *proc, secret string) {
	t.Helper()
	for what, out := range map[string]string{"stdout": h.stdout.String(), "stderr": h.stderr.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("the password shows in the host's %s:\n%s", what, out)
		}
	}
}

func TestCounterWithRedis(t *testing.T) {
	addr := startRedis(t, redisPassword)
	h := startHost(t, t.TempDir(), hostEnv(t,
		"OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__ADDR="+addr,
		"OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__PASSWORD="+redisPassword))

	expect(t, h, "GET", "/counter?key=visits", "", http.StatusOK, "Counter is 1\n")
	expect(t, h, "GET", "/counter?key=visits", "", http.StatusOK, "Counter is 2\n")
	expect(t, h, "GET", "/counter?key=other", "", http.StatusOK, "Counter is 1\n")
	expect(t, h, "GET", "/counter", "", http.StatusBadRequest, "give a key: /counter?key=K\n")
	rep := h.report()
	if c := componentReport(t, rep, "redis"); c.State != opa.StateConnected {
		t.Errorf("component redis: %+v, want connected", c)
	}
	h.stop()
	noSecret(t, h, redisPassword)
	if !strings.Contains(h.stderr.String(), "password:[REDACTED]") {
		t.Errorf("the host's log does not show the password redacted:\n%s", h.stderr)
	}
}

func TestCounterWithoutRedis(t *testing.T) {
	// hostEnv points the redis component at a closed port.
	h := startHost(t, t.TempDir(), hostEnv(t, "OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__PASSWORD="+redisPassword))

	c := componentReport(t, h.report(), "redis")
	if c.State != opa.StateUnavailable || c.Load != "auto" || !strings.Contains(c.Error, "connection refused") {
		t.Errorf("component redis: %+v, want unavailable (LOAD=auto) with connection refused", c)
	}
	expect(t, h, "GET", "/counter?key=visits", "", http.StatusServiceUnavailable,
		"the counter needs Redis, and the redis component is unavailable (is Redis running? see /opa/report)\n")
	// The rest of the host works without Redis.
	expect(t, h, "GET", "/hello", "", http.StatusOK, "Hello from a plugin\n")
	h.stop()
	noSecret(t, h, redisPassword)
}

func TestRedisWrongPasswordFailsStartup(t *testing.T) {
	addr := startRedis(t, redisPassword)
	const wrong = "wrong-redis-pw"
	h := launch(t, t.TempDir(), hostEnv(t,
		"OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__ADDR="+addr,
		"OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__PASSWORD="+wrong))

	// A server that is there but refuses us is not "unavailable": even
	// with LOAD=auto, Startup fails and the host exits.
	if err := h.wait(); err == nil {
		t.Fatalf("host started with a wrong Redis password:\n%s", h.stdout)
	}
	if !strings.Contains(h.stderr.String(), "component redis") || !strings.Contains(strings.ToUpper(h.stderr.String()), "WRONGPASS") {
		t.Errorf("the host's error does not say Redis refused the password:\n%s", h.stderr)
	}
	noSecret(t, h, wrong)
}
