package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/metrics"
)

// After 100 requests to one plugin's route and 7 to another's, /metrics,
// parsed with Prometheus's own text parser, reads 100 and 7; the other
// metrics are there with the labels the package doc names.
func TestMetrics(t *testing.T) {
	route := func(path string, code int) opa.Plugin {
		r := opa.GetRouter()
		r.Get(path, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) })
		return opa.Plugin{Router: r}
	}
	defs := opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: "check", Func: (func(string) error)(nil)}}}
	impl := opa.Plugin{Hooks: []opa.Hook{{Name: "check", Func: func(s string) error {
		if s == "" {
			return errors.New("empty")
		}
		return nil
	}}}}
	driver := opa.Plugin{Drivers: []opa.Driver{{Name: "fake", New: func(opa.Options) (opa.Component, error) { return fakeComponent{}, nil }}}}
	m, err := opa.New(opa.WithConfig(opa.Config{DefaultPluginPath: t.TempDir(),
		OptionalComponents: map[string]opa.ComponentConfig{"cache": {Driver: "fake"}, "off": {Load: "no"}}}),
		opa.WithPlugin("driver", driver),
		opa.WithLogger(slog.New(slog.DiscardHandler)),
		opa.WithPlugin("hundred", route("/hundred", http.StatusOK)), opa.WithPlugin("seven", route("/seven", http.StatusServiceUnavailable)),
		opa.WithPlugin("defs", defs), opa.WithPlugin("impl", impl))
	require.NoError(t, err)
	host := chi.NewRouter()
	require.NoError(t, m.Startup(t.Context(), host))
	t.Cleanup(func() { _ = m.Shutdown(t.Context()) })

	for range 100 {
		host.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/hundred", nil))
	}
	for range 7 {
		host.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/seven", nil))
	}
	for _, s := range []string{"a", "", "b"} {
		_, _ = m.CallHook("check", s)
	}
	m.CountReload("ok", nil)

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(func() *opa.Manager { return m }))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain") // the text format, not protobuf
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, "%s", body)

	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		require.True(t, ok, "no metric %s in:\n%s", name, body)
		for _, mt := range f.GetMetric() {
			if matches(mt, labels) {
				switch {
				case mt.Counter != nil:
					return mt.GetCounter().GetValue()
				case mt.Gauge != nil:
					return mt.GetGauge().GetValue()
				case mt.Histogram != nil:
					return float64(mt.GetHistogram().GetSampleCount())
				}
			}
		}
		t.Fatalf("no %s%v in:\n%s", name, labels, body)
		return 0
	}
	assert.Equal(t, 100.0, value("opa_plugin_requests_total", map[string]string{"plugin": "hundred", "code": "2xx"}))
	assert.Equal(t, 7.0, value("opa_plugin_requests_total", map[string]string{"plugin": "seven", "code": "5xx"}))
	assert.Equal(t, 0.0, value("opa_plugin_requests_total", map[string]string{"plugin": "seven", "code": "2xx"}))
	assert.Equal(t, 0.0, value("opa_plugin_panics_total", map[string]string{"plugin": "hundred"}))
	assert.Equal(t, float64((100+opa.DefaultLatencySampling-1)/opa.DefaultLatencySampling), value("opa_plugin_request_duration_seconds", map[string]string{"plugin": "hundred"}),
		"the first request, then one in DefaultLatencySampling, is timed")
	assert.Equal(t, 3.0, value("opa_hook_calls_total", map[string]string{"hook": "check", "plugin": "impl"}))
	assert.Equal(t, 1.0, value("opa_hook_errors_total", map[string]string{"hook": "check", "plugin": "impl"}))
	assert.Equal(t, 5.0, value("opa_plugins", map[string]string{"state": "loaded"}))
	assert.Equal(t, 1.0, value("opa_component_up", map[string]string{"component": "cache"}))
	assert.Equal(t, 0.0, value("opa_component_up", map[string]string{"component": "off"}))
	assert.Equal(t, 3.0, value("opa_jobs", map[string]string{"component": "cache", "queue": "mail", "state": "available"}))
	assert.Equal(t, 1.0, value("opa_jobs", map[string]string{"component": "cache", "queue": "mail", "state": "running"}))
	assert.Equal(t, 1.0, value("opa_reloads_total", map[string]string{"outcome": "ok"}))
	assert.Equal(t, dto.MetricType_HISTOGRAM, families["opa_plugin_request_duration_seconds"].GetType())
}

// A nil Manager (before Startup) gives no metrics and no error.
func TestMetricsNoManager(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(func() *opa.Manager { return nil }))
	families, err := reg.Gather()
	require.NoError(t, err)
	assert.Empty(t, families)
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// fakeComponent is a component that is always there.
type fakeComponent struct{}

func (fakeComponent) Connect(context.Context) error { return nil }
func (fakeComponent) Instance() any                 { return "fake" }

// Status reports job counts as the river driver does.
func (fakeComponent) Status(context.Context) (any, error) {
	return map[string]any{"queues": map[string]map[string]int{"mail": {"available": 3, "running": 1}}, "leader": "x"}, nil
}

// A plugin whose name is not UTF-8 (its directory's, in another encoding)
// is scraped with the name made valid, not a failed scrape.
func TestMetricsLabelThatIsNotUTF8(t *testing.T) {
	r := opa.GetRouter()
	r.Get("/cafe", func(w http.ResponseWriter, _ *http.Request) {})
	m, err := opa.New(opa.WithConfig(opa.Config{DefaultPluginPath: t.TempDir()}),
		opa.WithLogger(slog.New(slog.DiscardHandler)), opa.WithPlugin("caf\xe9", opa.Plugin{Router: r}))
	require.NoError(t, err)
	require.NoError(t, m.Startup(t.Context(), chi.NewRouter()))
	t.Cleanup(func() { _ = m.Shutdown(t.Context()) })

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(func() *opa.Manager { return m }))
	families, err := reg.Gather()
	require.NoError(t, err)
	found := false
	for _, f := range families {
		if f.GetName() == "opa_plugin_panics_total" {
			for _, metric := range f.GetMetric() {
				found = found || matches(metric, map[string]string{"plugin": "caf\uFFFD"})
			}
		}
	}
	assert.True(t, found, "opa_plugin_panics_total{plugin=\"caf\\uFFFD\"}")
}
