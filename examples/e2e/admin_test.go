package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestOperatorViewsArePrivate: the example host serves the report and
// River UI on its private admin listener only. Its public listener answers
// 404 for them, and the host prints where each is.
func TestOperatorViewsArePrivate(t *testing.T) {
	h := startHost(t, t.TempDir(), hostEnv(t, "RIVER_UI=1"))
	if h.admin == "" || h.admin == h.base {
		t.Fatalf("the host printed no admin address of its own (public %s):\n%s", h.base, h.stdout)
	}
	for _, path := range []string{"/opa/report", "/opa/report?format=html", "/opa/report?format=json", "/riverui", "/riverui/", "/riverui/api/jobs?state=available", "/riverui/api/queues"} {
		if code, body := h.get(path); code != http.StatusNotFound {
			t.Errorf("public GET %s: %d, want 404\n%.300s", path, code, body)
		}
	}
	if code, body := h.doAt(h.admin, "GET", "/opa/report", ""); code != http.StatusOK || !strings.Contains(body, `"plugins"`) {
		t.Errorf("admin GET /opa/report: %d, want the report\n%.300s", code, body)
	}
	if code, page := getHTML(t, h.admin, "/riverui/"); code != http.StatusOK || !strings.Contains(page, "<title>River</title>") {
		t.Errorf("admin GET /riverui/: %d, want River UI's page\n%.300s", code, page)
	}
	for _, line := range []string{"  report:   " + h.admin + "/opa/report\n", "  River UI: " + h.admin + "/riverui/\n", "  curl " + h.admin + "/opa/report\n"} {
		if !strings.Contains(h.stdout.String(), line) {
			t.Errorf("the host did not print %q:\n%s", line, h.stdout)
		}
	}
	h.stop()
}
