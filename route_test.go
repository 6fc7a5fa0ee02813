package opa_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// text answers with s, and with the URL params it names ("{id}").
func text(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out := s
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			for i, k := range rctx.URLParams.Keys {
				out = strings.ReplaceAll(out, "{"+k+"}", rctx.URLParams.Values[i])
			}
		}
		_, _ = io.WriteString(w, out)
	}
}

// header is middleware that sets a response header.
func header(k, v string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add(k, v)
			next.ServeHTTP(w, r)
		})
	}
}

// get sends a request to h and returns the status, the body and the
// response headers.
func get(h http.Handler, method, path string) (int, string, http.Header) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestRoutesJoinTheHost(t *testing.T) {
	pr := chi.NewRouter()
	pr.Use(header("X-Plugin", "yes"))
	pr.Get("/hello", text("hello"))
	pr.Post("/hello", text("posted"))
	pr.With(header("X-Inline", "yes")).Get("/inline", text("inline"))
	pr.Route("/users/{uid}", func(r chi.Router) {
		r.Use(header("X-Users", "yes"))
		r.Get("/", text("user {uid}"))
		r.Get("/posts/{pid}", text("post {pid} of {uid}"))
	})
	api := chi.NewRouter()
	api.Get("/items/{id}", text("item {id}"))
	pr.Mount("/api", api)

	host := chi.NewRouter()
	host.Use(header("X-Host", "yes"))
	host.Get("/", text("home"))
	_, err := startMgr(t, opa.Config{}, host, opa.WithPlugin("web", opa.Plugin{Router: pr}))
	require.NoError(t, err)

	cases := []struct {
		name, method, path string
		status             int
		body               string
		headers            []string // set to "yes"
	}{
		{"host route", "GET", "/", 200, "home", []string{"X-Host"}},
		{"plugin route at its own path", "GET", "/hello", 200, "hello", []string{"X-Host", "X-Plugin"}},
		{"another method", "POST", "/hello", 200, "posted", []string{"X-Host", "X-Plugin"}},
		{"inline middleware", "GET", "/inline", 200, "inline", []string{"X-Host", "X-Plugin", "X-Inline"}},
		{"subrouter with params", "GET", "/users/7/posts/9", 200, "post 9 of 7", []string{"X-Host", "X-Plugin", "X-Users"}},
		{"subrouter root", "GET", "/users/7/", 200, "user 7", []string{"X-Users"}},
		{"mounted router with params", "GET", "/api/items/42", 200, "item 42", []string{"X-Host", "X-Plugin"}},
		{"no prefix is added", "GET", "/web/hello", 404, "", nil},
		{"unknown path", "GET", "/nope", 404, "", []string{"X-Host"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := get(host, tc.method, tc.path)
			assert.Equal(t, tc.status, status)
			if tc.status == 200 {
				assert.Equal(t, tc.body, body)
			}
			for _, h := range tc.headers {
				assert.Equal(t, "yes", hdr.Get(h), h)
			}
		})
	}
}

func TestRoutesReport(t *testing.T) {
	pr := chi.NewRouter()
	pr.Get("/a/{id}", text("a"))
	host := chi.NewRouter()
	m, err := startMgr(t, opa.Config{}, host, opa.WithPlugin("web", opa.Plugin{Router: pr}))
	require.NoError(t, err)
	assert.Equal(t, []opa.RouteReport{{Method: "GET", Pattern: "/a/{id}", Plugin: "web"}}, m.Report().Routes)
}

func TestRouteConflicts(t *testing.T) {
	router := func(method, pattern string) chi.Router {
		r := chi.NewRouter()
		r.Method(method, pattern, text("x"))
		return r
	}
	cases := []struct {
		name    string
		host    func(chi.Router)
		plugins map[string]chi.Router
		want    []string // empty: no conflict
	}{
		{"two plugins, same method and path", nil,
			map[string]chi.Router{"a": router("GET", "/x"), "b": router("GET", "/x")},
			[]string{"plugin b", "GET /x is already served by plugin a"}},
		{"a plugin and the host", func(r chi.Router) { r.Get("/x", text("host")) },
			map[string]chi.Router{"a": router("GET", "/x")},
			[]string{"plugin a", "GET /x is already served by the host"}},
		{"param names do not matter", nil,
			map[string]chi.Router{"a": router("GET", "/u/{id}"), "b": router("GET", "/u/{name}")},
			[]string{"plugin b", "GET /u/{name} is already served by plugin a"}},
		{"param names do not matter against the host", func(r chi.Router) { r.Get("/u/{id}", text("host")) },
			map[string]chi.Router{"a": router("GET", "/u/{name}")},
			[]string{"is already served by the host"}},
		{"a host subrouter", func(r chi.Router) { r.Route("/api", func(r chi.Router) { r.Get("/x", text("host")) }) },
			map[string]chi.Router{"a": router("GET", "/api/x")},
			[]string{"GET /api/x is already served by the host"}},
		{"different methods are not a conflict", nil,
			map[string]chi.Router{"a": router("GET", "/x"), "b": router("POST", "/x")}, nil},
		{"different paths are not a conflict", nil,
			map[string]chi.Router{"a": router("GET", "/x"), "b": router("GET", "/y")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := chi.NewRouter()
			if tc.host != nil {
				tc.host(host)
			}
			var opts []opa.Option
			for name, r := range tc.plugins {
				opts = append(opts, opa.WithPlugin(name, opa.Plugin{Router: r}))
			}
			_, err := startMgr(t, opa.Config{}, host, opts...)
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			var pe *opa.PluginError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "routes", pe.Step)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// TestRoutesChiPanicsBecomeErrors shows patterns that chi accepts in a plugin
// router but panics on when they join the host, and a setup that misuses the
// host router: Startup returns an error and never panics.
func TestRoutesChiPanicsBecomeErrors(t *testing.T) {
	cases := []struct {
		name   string
		plugin func() opa.Plugin
		want   []string
	}{
		{"duplicate param key across a subrouter", func() opa.Plugin {
			r := chi.NewRouter()
			r.Get("/ok", text("ok"))
			r.Route("/u/{id}", func(r chi.Router) { r.Get("/p/{id}", text("x")) })
			return opa.Plugin{Router: r}
		}, []string{"plugin bad", "routes", "/u/{id}/p/{id}", "duplicate param key"}},
		{"a setup adding middleware after the routes", func() opa.Plugin {
			r := chi.NewRouter()
			r.Get("/ok", text("ok"))
			return opa.Plugin{Router: r, Setups: []opa.Setup{func(_ context.Context, r chi.Router) error {
				r.Use(header("X-Late", "yes"))
				return nil
			}}}
		}, []string{"plugin bad", "setup 1", "panicked", "all middlewares must be defined before routes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := chi.NewRouter()
			var err error
			require.NotPanics(t, func() {
				_, err = startMgr(t, opa.Config{}, host, opa.WithPlugin("bad", tc.plugin()))
			})
			require.Error(t, err)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestRoutesRefusedLeaveTheHostAlone(t *testing.T) {
	r := chi.NewRouter()
	r.Get("/ok", text("ok"))
	r.Route("/u/{id}", func(r chi.Router) { r.Get("/p/{id}", text("x")) })
	host := chi.NewRouter()
	_, err := startMgr(t, opa.Config{}, host, opa.WithPlugin("bad", opa.Plugin{Router: r}))
	require.Error(t, err)
	status, _, _ := get(host, "GET", "/ok")
	assert.Equal(t, 404, status, "a failed Startup adds no plugin route to the host")
}

// A plain http.Handler mounted on a plugin router (not a chi router) joins
// the host too: chi.Walk reports it as "/static/*" for every method.
func TestRoutesMountedPlainHandler(t *testing.T) {
	r := chi.NewRouter()
	r.Mount("/static", http.StripPrefix("/static", text("static")))
	host := chi.NewRouter()
	_, err := startMgr(t, opa.Config{}, host, opa.WithPlugin("web", opa.Plugin{Router: r}))
	require.NoError(t, err)
	for _, method := range []string{"GET", "POST"} {
		status, body, _ := get(host, method, "/static/a.css")
		assert.Equal(t, 200, status, method)
		assert.Equal(t, "static", body, method)
	}
}

// TestRoutesReplacedByTheHost adds, after Startup, a host route on a
// plugin route's method and path (chi then serves the host's handler):
// the report marks the plugin's route, in the JSON, the text and the page,
// warns, and logs the WARN line once however often it is asked.
func TestRoutesReplacedByTheHost(t *testing.T) {
	pr := chi.NewRouter()
	pr.Get("/hello/{name}", text("plugin"))
	pr.Get("/kept", text("kept"))
	host := chi.NewRouter()
	logs := &strings.Builder{}
	log := slog.New(slog.NewTextHandler(&lockedBuilder{b: logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := startMgr(t, opa.Config{}, host, opa.WithPlugin("web", opa.Plugin{Router: pr}), opa.WithLogger(log))
	require.NoError(t, err)
	assert.Empty(t, m.Report().Warnings, "nothing replaced yet")

	host.Get("/hello/{who}", text("host")) // after Startup: chi replaces the plugin's handler
	_, body, _ := get(host, "GET", "/hello/ada")
	require.Equal(t, "host", body, "chi serves the host's route")

	for range 3 {
		rep := m.Report()
		assert.Equal(t, []opa.RouteReport{
			{Method: "GET", Pattern: "/hello/{name}", Plugin: "web", ReplacedByHost: true},
			{Method: "GET", Pattern: "/kept", Plugin: "web"},
		}, rep.Routes)
		require.Len(t, rep.Warnings, 1)
		assert.Contains(t, rep.Warnings[0], "GET /hello/{name} of plugin web is replaced by the host")
		assert.Contains(t, rep.String(), "route GET /hello/{name} (plugin web): replaced by the host")
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "is replaced by the host"), "one WARN line:\n%s", logs)

	js := getReport(t, m.ReportHandler(), "/", "").Body.String()
	assert.Contains(t, js, `"replaced_by_host": true`)
	page := getReport(t, m.ReportHandler(), "/?format=html", "").Body.String()
	assert.Contains(t, page, `<span class="badge warn">replaced by the host</span>`)
}

// lockedBuilder is a strings.Builder that a logger may write from many
// goroutines.
type lockedBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
