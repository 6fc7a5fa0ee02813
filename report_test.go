package opa_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReportHandlerServesJSON(t *testing.T) {
	r := chi.NewRouter()
	m, err := startMgr(t, opa.Config{WhitelistTags: []string{"web"}}, r,
		opa.WithPlugin("shown", opa.Plugin{}, "web"), opa.WithPlugin("hidden", opa.Plugin{}))
	require.NoError(t, err)
	r.Get("/opa/report", m.ReportHandler())

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/opa/report", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), "a browser must not sniff the JSON into a page")
	var got opa.Report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, m.Report(), got)
	require.Len(t, got.Plugins, 2)
	assert.Equal(t, "hidden", got.Plugins[0].Name)
	assert.Equal(t, "no tag in PLUGIN_WHITELIST_TAGS", got.Plugins[0].Reason)
	assert.True(t, got.Plugins[1].Loaded)
}

func TestPackageReportHandlerBeforeStartup(t *testing.T) {
	old := opa.GetManager()
	opa.SetDefault(nil)
	t.Cleanup(func() { opa.SetDefault(old) })
	rec := httptest.NewRecorder()
	opa.ReportHandler()(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
}

func TestReportString(t *testing.T) {
	m, err := startMgr(t, opa.Config{BlacklistList: []string{"x"}}, nil, opa.WithPlugin("a", opa.Plugin{}, "t"))
	require.NoError(t, err)
	s := m.Report().String()
	assert.Contains(t, s, "plugin a (")
	assert.Contains(t, s, "tags=[t]: loaded")

	m, err = startMgr(t, opa.Config{}, nil)
	require.NoError(t, err)
	assert.Equal(t, "plugins: none found\n", m.Report().String())
}
