package opa_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browserAccept is what Chromium and Firefox send for a page.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// getReport serves one request to h and returns the recorder.
func getReport(t *testing.T, h http.Handler, target, accept string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestReportHandlerNegotiates(t *testing.T) {
	m, err := startMgr(t, opa.Config{}, nil, opa.WithPlugin("p", opa.Plugin{}))
	require.NoError(t, err)
	h := m.ReportHandler()
	cases := []struct {
		name, target, accept string
		want                 string // "html", "json" or "400"
	}{
		{"a browser", "/opa/report", browserAccept, "html"},
		{"curl's default", "/opa/report", "*/*", "json"},
		{"no Accept", "/opa/report", "", "json"},
		{"JSON asked", "/opa/report", "application/json", "json"},
		{"HTML asked", "/opa/report", "text/html", "html"},
		{"any text", "/opa/report", "text/*", "html"},
		{"JSON ranked above HTML", "/opa/report", "text/html;q=0.5, application/json", "json"},
		{"HTML ranked above JSON", "/opa/report", "application/json;q=0.4, text/html", "html"},
		{"HTML refused", "/opa/report", "text/html;q=0, */*", "json"},
		{"equal rank is JSON", "/opa/report", "text/html, application/json", "json"},
		{"format=json beats a browser", "/opa/report?format=json", browserAccept, "json"},
		{"format=html beats curl", "/opa/report?format=html", "*/*", "html"},
		{"unknown format", "/opa/report?format=xml", browserAccept, "400"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := getReport(t, h, tc.target, tc.accept)
			switch tc.want {
			case "400":
				assert.Equal(t, http.StatusBadRequest, rec.Code)
				assert.Contains(t, rec.Body.String(), "format=json or format=html")
			case "html":
				require.Equal(t, http.StatusOK, rec.Code)
				assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
				assert.True(t, strings.HasPrefix(rec.Body.String(), "<!doctype html>"), "not a page: %.80q", rec.Body.String())
				assert.Equal(t, "Accept", rec.Header().Get("Vary"))
			case "json":
				require.Equal(t, http.StatusOK, rec.Code)
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
				var got opa.Report
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
				assert.Equal(t, m.Report(), got)
				assert.Equal(t, "Accept", rec.Header().Get("Vary"))
			}
		})
	}
}

func TestPackageReportHandlerNegotiates(t *testing.T) {
	old := opa.GetManager()
	t.Cleanup(func() { opa.SetDefault(old) })
	m, err := startMgr(t, opa.Config{}, nil, opa.WithPlugin("p", opa.Plugin{}))
	require.NoError(t, err)
	opa.SetDefault(m)
	h := opa.ReportHandler()
	assert.Equal(t, "text/html; charset=utf-8", getReport(t, h, "/", browserAccept).Header().Get("Content-Type"))
	assert.Equal(t, "application/json", getReport(t, h, "/", "*/*").Header().Get("Content-Type"))
}

// hostileDir is a plugin directory whose one candidate has hostile text in
// its file name, tags and meta; a blacklisted tag keeps it from being opened.
func hostileDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	name := `<b>bold`
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".so"), nil, 0o644))
	meta := `{"tags": ["hostile", "<img src=x onerror=alert(2)>"], "description": "<script>alert(1)</script>", "owner": {"team": "</td><td>"}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+"-meta.json"), []byte(meta), 0o644))
	return dir
}

func TestReportPageEscapesEverything(t *testing.T) {
	m, err := startMgr(t, opa.Config{PluginPaths: []string{hostileDir(t)}, BlacklistTags: []string{"hostile"}}, nil,
		opa.WithPlugin("plain", opa.Plugin{}))
	require.NoError(t, err)
	rep := m.Report()
	require.Len(t, rep.Plugins, 2, "the hostile candidate is found")
	require.Equal(t, "<b>bold", rep.Plugins[0].Name)

	rec := getReport(t, m.ReportHandler(), "/?format=html", "")
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()

	// The page has exactly the one script it brings, and no hostile markup.
	assert.Equal(t, 1, strings.Count(body, "<script"), "one <script> element: the page's own")
	for _, raw := range []string{"<script>alert", "<img", "<b>bold", "</td><td>"} {
		assert.False(t, strings.Contains(body, raw), "the page holds %q as markup", raw)
	}
	// The hostile text is there, as text.
	for _, text := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;img src=x onerror=alert(2)&gt;",
		"&lt;b&gt;bold",
		`{&#34;team&#34;:&#34;&lt;/td&gt;&lt;td&gt;&#34;}`,
	} {
		assert.Contains(t, body, text)
	}
	assert.Contains(t, body, "by PLUGIN_BLACKLIST_TAGS", "the skip names its filter")
}

func TestReportPageCSPAllowsOnlyItsOwnStyleAndScript(t *testing.T) {
	m, err := startMgr(t, opa.Config{}, nil)
	require.NoError(t, err)
	rec := getReport(t, m.ReportHandler(), "/", browserAccept)
	csp := rec.Header().Get("Content-Security-Policy")
	require.NotEmpty(t, csp)
	assert.Contains(t, csp, "default-src 'none'")
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	body := rec.Body.String()
	for _, el := range []string{"style", "script"} {
		inner := regexp.MustCompile(`(?s)<` + el + `>(.*?)</` + el + `>`).FindStringSubmatch(body)
		require.NotNil(t, inner, "the page has an inline <%s>", el)
		sum := sha256.Sum256([]byte(inner[1]))
		want := el + "-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		assert.Contains(t, csp, want, "the policy allows the page's own <%s>, byte for byte", el)
	}
}

func TestReportHookCandidates(t *testing.T) {
	str := (func(string) string)(nil)
	defs := opa.WithPlugin("a", opa.Plugin{
		HookDefinitions: []opa.HookDefinition{def("greet", str), def("tie", str), def("unused", str)},
		Hooks:           []opa.Hook{hook("greet", 1, says("a")), hook("tie", 5, says("a"))},
	})
	b := opa.WithPlugin("b", opa.Plugin{Hooks: []opa.Hook{hook("greet", 3, says("b")), hook("tie", 5, says("b"))}})
	c := opa.WithPlugin("c", opa.Plugin{Hooks: []opa.Hook{hook("greet", 2, says("c"))}})
	r := chi.NewRouter()
	m, err := startMgr(t, opa.Config{}, r, defs, b, c)
	require.NoError(t, err)
	rep := m.Report()
	require.Len(t, rep.Hooks, 3)
	assert.Equal(t, []opa.HookCandidate{{Plugin: "a", Order: 1}, {Plugin: "b", Order: 3, Winner: true}, {Plugin: "c", Order: 2}},
		rep.Hooks[0].Candidates, "greet: the highest order wins")
	assert.Equal(t, "b", rep.Hooks[0].Plugin)
	assert.Equal(t, []opa.HookCandidate{{Plugin: "a", Order: 5}, {Plugin: "b", Order: 5, Winner: true}},
		rep.Hooks[1].Candidates, "tie: the last registered wins, as CallHook says")
	out, err := m.CallHook("tie", "x")
	require.NoError(t, err)
	assert.Equal(t, "b", out[0], "the candidate marked winner is the one called")
	assert.Equal(t, []opa.HookCandidate{}, rep.Hooks[2].Candidates)

	body := getReport(t, m.ReportHandler(), "/", browserAccept).Body.String()
	row := regexp.MustCompile(`(?s)<tr data-hook="greet">.*?</tr>`).FindString(body)
	require.NotEmpty(t, row)
	for _, want := range []string{`<span class="cand-plugin">a</span> <span class="order">order 1</span>`,
		`<li class="winner"><span class="cand-plugin">b</span> <span class="order">order 3</span> <span class="win">wins</span>`,
		`<span class="cand-plugin">c</span> <span class="order">order 2</span>`} {
		assert.Contains(t, row, want)
	}
	assert.Contains(t, body, "none: no loaded plugin provides it")
}

func TestReportStateAndSearchPaths(t *testing.T) {
	dir := t.TempDir()
	def := t.TempDir()
	m, err := startMgr(t, opa.Config{PluginPaths: []string{dir, dir}, DefaultPluginPath: def}, nil)
	require.NoError(t, err)
	rep := m.Report()
	assert.Equal(t, "started", rep.State)
	assert.Equal(t, []string{dir, def}, rep.SearchPaths)
	require.NoError(t, m.Shutdown(context.Background()))
	assert.Equal(t, "stopped", m.Report().State)
	assert.Equal(t, []string{dir, def}, m.Report().SearchPaths, "stopping keeps the rest of the report")

	m, err = startMgr(t, opa.Config{}, nil, opa.WithPlugin("p", opa.Plugin{
		HookDefinitions: []opa.HookDefinition{{Name: "must", Required: true}},
	}))
	require.Error(t, err)
	rep = m.Report()
	assert.Equal(t, "failed", rep.State)
	body := getReport(t, m.ReportHandler(), "/", browserAccept).Body.String()
	assert.Contains(t, body, `<span class="badge bad" id="state">failed</span>`)
	assert.Contains(t, body, "Startup failed:")
	assert.Contains(t, body, "[must]", "the page shows the startup error")
	require.NotEmpty(t, rep.BuildCheck)
	assert.Contains(t, body, `id="build-check">Build check: `+template.HTMLEscapeString(rep.BuildCheck)+"<", "the page shows how plugins were checked")
}

func TestReportPageDecisionBadges(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	for _, dir := range []string{first, second} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "dup.so"), nil, 0o644))
	}
	broken := opa.WithPlugin("broken", opa.Plugin{Setups: []opa.Setup{func(context.Context, chi.Router) error {
		return errors.New("no table")
	}}})
	// Everything but the plugin "filtered" passes the whitelist.
	allow := "^(" + regexp.QuoteMeta(first) + "|" + regexp.QuoteMeta(second) + "|.*/(broken|fine)$)"
	m, err := startMgr(t, opa.Config{PluginPaths: []string{first, second}, WhitelistRE: allow, OnError: opa.OnErrorSkip},
		chi.NewRouter(), broken, opa.WithPlugin("fine", opa.Plugin{}), opa.WithPlugin("filtered", opa.Plugin{}))
	require.NoError(t, err)
	body := getReport(t, m.ReportHandler(), "/?format=html", "").Body.String()

	cases := []struct {
		row, badge, class, detail string
	}{
		{`<tr data-plugin="dup">`, "refused", "bad", "at step preflight"},
		{`<tr data-plugin="dup">`, "shadowed", "off", "shadowed by " + filepath.Join(first, "dup")},
		{`<tr data-plugin="broken">`, "setup failed", "bad", "loaded, then a setup failed"},
		{`<tr data-plugin="fine">`, "loaded", "ok", ""},
		{`<tr data-plugin="filtered">`, "skipped", "warn", "by PLUGIN_WHITELIST_RE"},
	}
	rows := regexp.MustCompile(`(?s)<tr data-plugin="[^"]*">.*?</tr>`).FindAllString(body, -1)
	require.Len(t, rows, len(cases))
	for _, tc := range cases {
		t.Run(tc.badge, func(t *testing.T) {
			i := slices.IndexFunc(rows, func(r string) bool {
				return strings.HasPrefix(r, tc.row) && strings.Contains(r, `<span class="badge `+tc.class+`">`+tc.badge+`</span>`)
			})
			require.GreaterOrEqual(t, i, 0, "no row %s with badge %q", tc.row, tc.badge)
			if tc.detail != "" {
				assert.Contains(t, rows[i], `<div class="detail">`+tc.detail+`</div>`)
			} else {
				assert.NotContains(t, rows[i], `class="detail"`)
			}
		})
	}
	assert.Contains(t, body, "<li><b>1</b> loaded</li>")
	assert.Contains(t, body, "<li><b>2</b> skipped</li>")
	assert.Contains(t, body, "<li><b>1</b> refused</li>")
	assert.Contains(t, body, "<li><b>1</b> setup failed</li>")
}

// TestReportSettingsSource: the report, and its page's header, say where
// the settings came from.
func TestReportSettingsSource(t *testing.T) {
	m, err := opa.New(opa.WithConfig(opa.Config{}))
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(context.Background()))
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	assert.Equal(t, "the host's code (WithConfig)", m.Report().Settings)

	dir := t.TempDir()
	t.Setenv("OPA_SETTINGS_DIR", dir)
	t.Setenv("ENV", "Production")
	t.Setenv("OPA_PLUGIN_DEFAULT_PATH", t.TempDir())
	m, err = opa.New()
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(context.Background()))
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	want := "settings files in " + dir + " (sections default, production, global), then OPA_ variables"
	assert.Equal(t, want, m.Report().Settings)
	body := getReport(t, m.ReportHandler(), "/", browserAccept).Body.String()
	assert.Contains(t, body, `<div class="paths" id="settings">Settings: `+want+`</div>`)

	m, err = opa.New(opa.WithViper(viper.New()))
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(context.Background()))
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	assert.Equal(t, "the host's viper, then "+want, m.Report().Settings)
}
