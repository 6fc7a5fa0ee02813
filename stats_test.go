package opa_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// statsBundle is a started Manager with two compiled-in plugins, "a" and
// "b", and the host router they are mounted on.
type statsBundle struct {
	m    *opa.Manager
	host chi.Router
	log  *bytes.Buffer
}

// get serves GET path through the host router.
func (b statsBundle) get(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	b.host.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// pluginStats returns the Stats of plugin name.
func (b statsBundle) pluginStats(t *testing.T, name string) opa.PluginStats {
	t.Helper()
	for _, p := range b.m.Stats().Plugins {
		if p.Plugin == name {
			return p
		}
	}
	t.Fatalf("no plugin %q in Stats", name)
	return opa.PluginStats{}
}

func TestStats(t *testing.T) {
	setup := func(t *testing.T, opts ...opa.Option) statsBundle {
		t.Helper()
		a := opa.GetRouter()
		a.Get("/a/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("a")) })
		a.Get("/a/missing", func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
		a.Get("/a/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		a.Get("/a/panic", func(http.ResponseWriter, *http.Request) { panic("a: boom") })
		a.Get("/a/late-panic", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("partial"))
			panic("a: late boom")
		})
		a.Get("/a/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
		b := opa.GetRouter()
		b.Get("/b", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
		defs := opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: "half", Func: (func(int) (int, error))(nil)}}}
		impl := opa.Plugin{Hooks: []opa.Hook{{Name: "half", Func: func(n int) (int, error) {
			if n%2 != 0 {
				return 0, errors.New("odd")
			}
			return n / 2, nil
		}}}}
		var log bytes.Buffer
		opts = append([]opa.Option{opa.WithConfig(opa.Config{DefaultPluginPath: t.TempDir()}),
			opa.WithLogger(slog.New(slog.NewTextHandler(&log, nil))), opa.WithLatencySampling(1),
			opa.WithPlugin("a", opa.Plugin{Router: a}), opa.WithPlugin("b", opa.Plugin{Router: b}),
			opa.WithPlugin("defs", defs), opa.WithPlugin("impl", impl)}, opts...)
		m, err := opa.New(opts...)
		require.NoError(t, err)
		host := chi.NewRouter()
		host.Get("/host", func(w http.ResponseWriter, _ *http.Request) {})
		require.NoError(t, m.Startup(t.Context(), host))
		t.Cleanup(func() { _ = m.Shutdown(t.Context()) })
		return statsBundle{m: m, host: host, log: &log}
	}

	t.Run("requests and responses by class", func(t *testing.T) {
		b := setup(t)
		for range 3 {
			assert.Equal(t, http.StatusOK, b.get("/a/ok").Code)
		}
		assert.Equal(t, http.StatusNotFound, b.get("/a/missing").Code)
		assert.Equal(t, http.StatusBadGateway, b.get("/a/fail").Code)
		assert.Equal(t, http.StatusNoContent, b.get("/b").Code)
		b.get("/host")

		a := b.pluginStats(t, "a")
		assert.Equal(t, uint64(5), a.Requests)
		assert.Equal(t, [5]uint64{0, 3, 0, 1, 1}, a.Responses)
		assert.Equal(t, uint64(1), a.Status5xx())
		assert.Equal(t, uint64(5), a.Latency.Count, "WithLatencySampling(1) times every request")
		assert.Equal(t, opa.LatencyBuckets, a.Latency.Bounds)
		assert.Len(t, a.Latency.Counts, len(opa.LatencyBuckets)+1)
		bs := b.pluginStats(t, "b")
		assert.Equal(t, uint64(1), bs.Requests, "a host route counts for no plugin")
		assert.Equal(t, [5]uint64{0, 1, 0, 0, 0}, bs.Responses)
		assert.Zero(t, b.pluginStats(t, "defs").Requests, "a plugin without routes has zeros")

		rep := b.m.Report()
		for _, p := range rep.Plugins {
			switch p.Name {
			case "a":
				require.NotNil(t, p.Traffic)
				assert.Equal(t, uint64(5), p.Traffic.Requests)
				assert.Equal(t, uint64(1), p.Traffic.Status5xx)
				assert.Positive(t, p.Traffic.P99ms)
			case "defs", "impl":
				assert.Nil(t, p.Traffic, "no routes, no traffic")
			}
		}
	})

	t.Run("a panic is recovered, logged and counted", func(t *testing.T) {
		b := setup(t)
		rec := b.get("/a/panic")
		assert.Equal(t, http.StatusInternalServerError, rec.Code)
		assert.Equal(t, "Internal Server Error\n", rec.Body.String())
		assert.Contains(t, b.log.String(), `level=ERROR msg="opa: a handler of plugin a panicked" plugin=a method=GET pattern=/a/panic path=/a/panic panic="a: boom" stack=`)
		a := b.pluginStats(t, "a")
		assert.Equal(t, uint64(1), a.Panics)
		assert.Equal(t, uint64(1), a.Status5xx())
		assert.Equal(t, http.StatusOK, b.get("/a/ok").Code, "the host serves on")
	})

	t.Run("a panic after the response started closes the connection", func(t *testing.T) {
		b := setup(t)
		assert.PanicsWithValue(t, http.ErrAbortHandler, func() { b.get("/a/late-panic") })
		assert.Equal(t, uint64(1), b.pluginStats(t, "a").Panics)
		assert.Contains(t, b.log.String(), `panic="a: late boom"`)
	})

	t.Run("ErrAbortHandler goes up, not counted as a panic", func(t *testing.T) {
		b := setup(t)
		assert.PanicsWithValue(t, http.ErrAbortHandler, func() { b.get("/a/abort") })
		assert.Zero(t, b.pluginStats(t, "a").Panics)
		assert.NotContains(t, b.log.String(), "ERROR")
	})

	t.Run("WithPanicRecovery(false): counted, then up to the host", func(t *testing.T) {
		b := setup(t, opa.WithPanicRecovery(false))
		assert.PanicsWithValue(t, "a: boom", func() { b.get("/a/panic") })
		assert.Equal(t, uint64(1), b.pluginStats(t, "a").Panics)
		assert.NotContains(t, b.log.String(), "ERROR", "the host logs it")
	})

	t.Run("CallHook counts calls and errors; HookFuncOf does not", func(t *testing.T) {
		b := setup(t)
		for _, n := range []int{2, 3, 4} {
			_, _ = b.m.CallHook("half", n)
		}
		_, err := b.m.CallHook("half", "x")
		require.ErrorIs(t, err, opa.ErrBadCall)
		f, err := opa.HookFuncOf[func(int) (int, error)](b.m, "half")
		require.NoError(t, err)
		_, _ = f(8)
		assert.Equal(t, []opa.HookStats{{Hook: "half", Plugin: "impl", Calls: 4, Errors: 2}}, b.m.Stats().Hooks)
	})

	t.Run("reloads", func(t *testing.T) {
		b := setup(t)
		b.m.CountReload("ok", nil)
		b.m.CountReload("failed", nil)
		b.m.CountReload("ok", nil)
		want := map[string]uint64{"ok": 2, "failed": 1}
		assert.Equal(t, want, b.m.Stats().Reloads)
		assert.Equal(t, want, b.m.Report().Reloads)
		last := b.m.Report().LastReload
		require.NotNil(t, last)
		assert.Equal(t, "ok", last.Outcome)
		assert.Empty(t, last.Error)

		before := time.Now()
		b.m.CountReload("failed", errors.New("serve: reload failed: opa: plugin hello: refused"))
		last = b.m.Report().LastReload
		require.NotNil(t, last)
		assert.Equal(t, "failed", last.Outcome)
		assert.Equal(t, "serve: reload failed: opa: plugin hello: refused", last.Error)
		assert.False(t, last.At.Before(before), "the time of the last reload")
		page := getReport(t, b.m.ReportHandler(), "/", browserAccept).Body.String()
		assert.Contains(t, page, `<div class="paths" id="last-reload">Last reload: failed, `)
		assert.Contains(t, page, ": serve: reload failed: opa: plugin hello: refused</div>")
	})
}

// WithRouteMiddleware wraps each plugin's routes with the host's
// middleware for that plugin: the header it sets names the plugin on
// exactly that plugin's routes, a plugin it returns nil for is left alone,
// and the host's own routes never get it.
func TestWithRouteMiddleware(t *testing.T) {
	routes := map[string][]string{"a": {"/a/1", "/a/2/{id}"}, "b": {"/b"}, "c": {"/c"}}
	opts := []opa.Option{opa.WithConfig(opa.Config{DefaultPluginPath: t.TempDir()}), opa.WithLogger(slog.New(slog.DiscardHandler))}
	for name, paths := range routes {
		r := opa.GetRouter()
		for _, p := range paths {
			r.Get(p, func(http.ResponseWriter, *http.Request) {})
		}
		opts = append(opts, opa.WithPlugin(name, opa.Plugin{Router: r}))
	}
	var made []string
	opts = append(opts, opa.WithRouteMiddleware(func(plugin string) func(http.Handler) http.Handler {
		made = append(made, plugin)
		if plugin == "c" {
			return nil
		}
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Plugin", plugin)
				next.ServeHTTP(w, r)
			})
		}
	}))
	m, err := opa.New(opts...)
	require.NoError(t, err)
	host := chi.NewRouter()
	host.Get("/host", func(http.ResponseWriter, *http.Request) {})
	require.NoError(t, m.Startup(t.Context(), host))
	t.Cleanup(func() { _ = m.Shutdown(t.Context()) })
	assert.ElementsMatch(t, []string{"a", "b", "c"}, made, "made once per plugin with routes, at Startup")

	for path, want := range map[string]string{"/a/1": "a", "/a/2/7": "a", "/b": "b", "/c": "", "/host": ""} {
		rec := httptest.NewRecorder()
		host.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, http.StatusOK, rec.Code, path)
		assert.Equal(t, want, rec.Header().Get("X-Plugin"), path)
	}
	for _, rt := range m.Report().Routes {
		assert.False(t, rt.ReplacedByHost, "%s %s: the middleware does not hide the plugin's handler", rt.Method, rt.Pattern)
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := opa.Histogram{Bounds: []float64{1, 2, 4}, Counts: []uint64{0, 10, 10, 0}, Count: 20}
	assert.InDelta(t, 2.0, h.Quantile(0.5), 1e-9, "the median is the top of the second bucket")
	assert.InDelta(t, 3.8, h.Quantile(0.95), 1e-9, "interpolated inside the third bucket")
	over := opa.Histogram{Bounds: []float64{1}, Counts: []uint64{0, 5}, Count: 5}
	assert.Equal(t, 1.0, over.Quantile(0.99), "above the last bound: the last bound")
	assert.True(t, math.IsNaN(opa.Histogram{}.Quantile(0.5)), "empty: NaN")

	// A histogram decoded from JSON is whatever the JSON said: one with
	// counts and no bounds, or counts that do not fit its bounds, is NaN,
	// not a panic.
	var decoded opa.Histogram
	require.NoError(t, json.Unmarshal([]byte(`{"bounds": [], "counts": [3], "count": 3}`), &decoded))
	assert.True(t, math.IsNaN(decoded.Quantile(0.5)), "no bounds: NaN")
	assert.True(t, math.IsNaN(opa.Histogram{Bounds: []float64{1}, Counts: []uint64{3}, Count: 3}.Quantile(0.5)), "too few counts: NaN")
}
