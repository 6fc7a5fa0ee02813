package opa_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretForms are connection strings in each form that drivers accept,
// each with its secret as written and decoded, and the host and port that
// must stay visible.
var secretForms = []struct {
	name    string
	url     string
	secrets []string
	visible string
}{
	{"password in the query", "postgres://app@db.internal:5432/app?sslmode=disable&password=Hunter2Query", []string{"Hunter2Query"}, "db.internal:5432/app"},
	{"libpq key=value", "host=db.internal user=app password=Hunter2KeyVal dbname=app", []string{"Hunter2KeyVal"}, "host=db.internal user=app"},
	{"'#' in the password", "redis://:Hunter2#Frag@cache.internal:6379/0", []string{"Hunter2#Frag", "Hunter2"}, "cache.internal:6379"},
	{"'/' in the password", "redis://:Hunt/er2Slash@cache.internal:6379/0", []string{"Hunt/er2Slash", "er2Slash"}, "cache.internal:6379"},
	{"'#' in the password, encoded", "redis://:Hunter2%23Enc@cache.internal:6380/0", []string{"Hunter2%23Enc", "Hunter2#Enc"}, "cache.internal:6380"},
	{"3-character password", "redis://app:x9Q@cache.internal:6381/1", []string{"x9Q"}, "cache.internal:6381"},
}

// TestSecretsNeverShown runs the test host with the leaky driver, which
// repeats its connection string in its errors, and looks for the secret in
// everything the host shows: the Startup error, the report (as Report,
// and as JSON and page from ReportHandler) and the log. The host and port
// stay visible.
func TestSecretsNeverShown(t *testing.T) {
	for _, form := range secretForms {
		t.Run(form.name, func(t *testing.T) {
			for _, load := range []string{"auto", "yes"} {
				s := newSandbox(t)
				s.place("leaky", "p/leaky.so")
				// db: Connect fails, repeating its URL (LOAD=auto: the
				// service is not there; yes: authentication failed).
				// status: connects, and its Status fails repeating it.
				fail := map[string]string{"auto": "unavailable", "yes": "auth"}[load]
				s.write("settings/opa.yaml", fmt.Sprintf(`development:
  PLUGIN_PATHS: [%q]
  OPTIONAL_COMPONENTS:
    db: {DRIVER: leaky, LOAD: %s, OPTS: {url: %q, fail: %s}}
    status: {DRIVER: leaky, OPTS: {url: %q}}
`, s.path("p"), load, form.url, fail, form.url))
				res := s.run("-report-route", "/opa/report", "-get", "/opa/report?format=json", "-get", "/opa/report?format=html")
				rep, err := json.Marshal(res.Report)
				require.NoError(t, err)
				shown := map[string]string{"startup error": res.StartupError, "report": string(rep), "log": res.Stderr}
				for _, g := range res.Gets {
					shown[g.Path] = g.Body
				}
				if load == "yes" {
					require.NotEmpty(t, res.StartupError)
					assert.Contains(t, res.StartupError, "component db (driver leaky, plugin leaky)")
					assert.Contains(t, res.StartupError, form.visible)
				} else {
					require.Empty(t, res.StartupError, res.Stderr)
					require.Len(t, res.Gets, 2)
					assert.Contains(t, shown["/opa/report?format=json"], `"status_error"`, "the status component's failed Status is reported")
					assert.Contains(t, shown["/opa/report?format=html"], "<html")
				}
				assert.Contains(t, shown["report"], form.visible, "the host and port stay in the report")
				assert.Contains(t, res.Stderr, "[REDACTED]", "the log shows where a secret was")
				for where, text := range shown {
					for _, secret := range form.secrets {
						assert.NotContains(t, unmasked(text), secret, "LOAD=%s: the %s shows %q:\n%s", load, where, secret, text)
					}
				}
			}
		})
	}
}

// unmasked is text without the redaction placeholders (a short secret may
// be a part of "[REDACTED]"), and with the HTML page's escapes undone.
func unmasked(text string) string {
	text = strings.NewReplacer("&#43;", "+", "&#39;", "'", "&#34;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(text)
	text = strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(text)
	return strings.ReplaceAll(text, "[REDACTED", "\x00")
}
