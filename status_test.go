package opa_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// statusComp is a component whose Status does what its OPTS mode says:
// "good" answers counts and a few values to redact; "nostatus" is a
// component without Status (statusPlain).
type statusComp struct {
	mode    string
	release chan struct{} // closed at the end of the test: "hang" returns
	pair    *statusPair   // "pair1" and "pair2" answer once both are asked
}

// statusPair lets two Status calls wait for each other.
type statusPair struct {
	mu   sync.Mutex
	n    int
	both chan struct{} // closed when both have been asked
}

func (p *statusPair) arrive() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n++; p.n == 2 {
		close(p.both)
	}
}

func (s *statusComp) Connect(context.Context) error { return nil }
func (s *statusComp) Instance() any                 { return s }

func (s *statusComp) Status(ctx context.Context) (any, error) {
	switch s.mode {
	case "good":
		return map[string]any{
			"queues": map[string]map[string]int{
				"default": {"available": 2, "completed": 5},
				"mail":    {"retryable": 1},
			},
			"leader":    "host-1",
			"api_token": "tok-visible-nowhere",
			"dsn":       "postgres://u:pa55word-x@db/jobs",
			"note":      "connected with sup3rsecret",
		}, nil
	case "fail":
		return nil, errors.New("database is locked")
	case "panic":
		panic("status exploded")
	case "hang": // ignores its context
		<-s.release
		return "late", nil
	case "ctx": // honours its context, but never has an answer
		<-ctx.Done()
		return nil, ctx.Err()
	case "unjson":
		return map[string]any{"c": make(chan int)}, nil
	case "list":
		return []int{1, 2, 3}, nil
	case "pair1", "pair2":
		s.pair.arrive()
		select {
		case <-s.pair.both:
			return "met", nil
		case <-ctx.Done():
			return nil, errors.New("the other component was not asked at the same time")
		}
	}
	return nil, nil
}

// statusPlain is a component without Status.
type statusPlain struct{}

func (statusPlain) Connect(context.Context) error { return nil }
func (statusPlain) Instance() any                 { return nil }

var _ opa.StatusReporter = (*statusComp)(nil)

// statusManager starts a Manager whose components are named after the
// modes given (driver "st"), each with the secret OPTS password
// sup3rsecret.
func statusManager(t *testing.T, timeout time.Duration, modes ...string) *opa.Manager {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	pair := &statusPair{both: make(chan struct{})}
	drv := opa.Driver{Name: "st", New: func(o opa.Options) (opa.Component, error) {
		mode, _ := o["mode"].(string)
		if mode == "nostatus" {
			return statusPlain{}, nil
		}
		return &statusComp{mode: mode, release: release, pair: pair}, nil
	}}
	comps := map[string]opa.ComponentConfig{}
	for _, mode := range modes {
		comps[mode] = opa.ComponentConfig{Load: "yes", Driver: "st", Opts: opa.Options{"mode": mode, "password": "sup3rsecret"}}
	}
	m, err := startMgr(t, opa.Config{OptionalComponents: comps, ComponentTimeout: timeout}, nil,
		opa.WithPlugin("drv", opa.Plugin{Drivers: []opa.Driver{drv}}))
	require.NoError(t, err)
	return m
}

// componentByName finds a component in a report.
func componentByName(t *testing.T, rep opa.Report, name string) opa.ComponentReport {
	t.Helper()
	for _, c := range rep.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no component %q in the report", name)
	return opa.ComponentReport{}
}

// TestReportCarriesComponentStatus: the JSON report holds what a
// StatusReporter says, redacted as OPTS are; a component without Status
// and Report itself hold none.
func TestReportCarriesComponentStatus(t *testing.T) {
	m := statusManager(t, 0, "good", "nostatus", "list")
	rec := getReport(t, m.ReportHandler(), "/opa/report", "application/json")
	require.Equal(t, http.StatusOK, rec.Code)
	var got opa.Report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))

	good := componentByName(t, got, "good")
	assert.Empty(t, good.StatusError)
	assert.Equal(t, map[string]any{
		"queues": map[string]any{
			"default": map[string]any{"available": 2.0, "completed": 5.0},
			"mail":    map[string]any{"retryable": 1.0},
		},
		"leader":    "host-1",
		"api_token": "[REDACTED]",
		"dsn":       "postgres://u:[REDACTED]@db/jobs",
		"note":      "connected with [REDACTED]",
	}, good.Status)
	assert.NotContains(t, rec.Body.String(), "tok-visible-nowhere")
	assert.NotContains(t, rec.Body.String(), "pa55word-x")
	assert.NotContains(t, rec.Body.String(), "sup3rsecret")

	assert.Equal(t, []any{1.0, 2.0, 3.0}, componentByName(t, got, "list").Status)
	plain := componentByName(t, got, "nostatus")
	assert.Nil(t, plain.Status)
	assert.Empty(t, plain.StatusError)

	for _, c := range m.Report().Components {
		assert.Nil(t, c.Status, "Report asks no component: %s", c.Name)
	}
	assert.Contains(t, m.ReportWithStatus(context.Background()).String(),
		`component good (driver st, LOAD=yes): connected status={"api_token":"[REDACTED]",`)

	require.NoError(t, m.Shutdown(context.Background()))
	for _, c := range m.ReportWithStatus(context.Background()).Components {
		assert.Nil(t, c.Status, "a stopped Manager asks no component: %s", c.Name)
	}
}

// TestReportSurvivesFailingStatus: a Status that fails, panics, hangs past
// its deadline (with or without heeding its context) or answers what JSON
// cannot hold gives a StatusError naming the component; the good
// component's status and the rest of the report are intact.
func TestReportSurvivesFailingStatus(t *testing.T) {
	m := statusManager(t, 300*time.Millisecond, "good", "fail", "panic", "hang", "ctx", "unjson")
	rec := getReport(t, m.ReportHandler(), "/opa/report", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var got opa.Report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))

	want := map[string]string{
		"fail":   "database is locked",
		"panic":  "panicked: status exploded",
		"hang":   "status: did not return within 300ms (COMPONENT_TIMEOUT)",
		"ctx":    "within 300ms (COMPONENT_TIMEOUT)", // "did not finish" or, as the deadline passes, "did not return"
		"unjson": "its value (map[string]interface {}) does not marshal to JSON",
	}
	for name, cause := range want {
		c := componentByName(t, got, name)
		assert.Nil(t, c.Status, name)
		assert.Contains(t, c.StatusError, "opa: component "+name+" (driver st, plugin drv): status: ", name)
		assert.Contains(t, c.StatusError, cause, name)
		assert.Equal(t, opa.StateConnected, c.State, "a failing Status leaves the state as it is: %s", name)
	}
	assert.NotNil(t, componentByName(t, got, "good").Status)

	// Apart from the status fields, the report is the stored one.
	for i := range got.Components {
		got.Components[i].Status, got.Components[i].StatusError = nil, ""
	}
	assert.Equal(t, m.Report(), got)
}

// TestReportPageShowsStatus: the page shows a map of maps of counts as a
// table, other values as text, and a failed Status in the Error column,
// every value escaped.
func TestReportPageShowsStatus(t *testing.T) {
	m := statusManager(t, 0, "good", "fail")
	rec := getReport(t, m.ReportHandler(), "/opa/report", browserAccept)
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	row := body[strings.Index(body, `<tr data-component="good">`):]
	row = row[:strings.Index(row, `data-label="Error"`)]
	compact := strings.Join(strings.Fields(row), " ")
	for _, want := range []string{
		`<div class="key">queues</div>`,
		`<thead><tr><th></th><th>available</th><th>completed</th><th>retryable</th></tr></thead>`,
		`<tr><th>default</th><td>2</td><td>5</td><td></td></tr>`,
		`<tr><th>mail</th><td></td><td></td><td>1</td></tr>`,
		`<div class="key">leader</div><div class="value"><code>host-1</code></div>`,
		`<div class="key">api_token</div><div class="value"><code>[REDACTED]</code></div>`,
	} {
		assert.Contains(t, compact, want)
	}
	assert.Contains(t, body, `<div class="reason status-error">opa: component fail (driver st, plugin drv): status: database is locked</div>`)
	assert.NotContains(t, body, "sup3rsecret")
}

// TestStatusTimeoutBoundsStatus: with the default COMPONENT_TIMEOUT (10s),
// a Status that never answers is given up after StatusTimeout, and the
// error names that limit.
func TestStatusTimeoutBoundsStatus(t *testing.T) {
	m := statusManager(t, 0, "ctx")
	c := componentByName(t, m.ReportWithStatus(context.Background()), "ctx")
	assert.Contains(t, c.StatusError, "within "+opa.StatusTimeout.String()+" (opa.StatusTimeout)")
}

// The components are asked at the same time: two Status calls that each
// wait for the other both answer.
func TestStatusAskedAtOnce(t *testing.T) {
	m := statusManager(t, 0, "pair1", "pair2")
	rep := m.ReportWithStatus(context.Background())
	for _, name := range []string{"pair1", "pair2"} {
		c := componentByName(t, rep, name)
		assert.Empty(t, c.StatusError, name)
		assert.Equal(t, "met", c.Status, name)
	}
}

// A Status that ignored its context and has not returned is not asked
// again (reports polled every few seconds would pile up goroutines); one
// that honours its context is asked each time.
func TestSlowStatusIsNotAskedAgain(t *testing.T) {
	m := statusManager(t, 200*time.Millisecond, "hang", "ctx")
	first := m.ReportWithStatus(context.Background())
	assert.Contains(t, componentByName(t, first, "hang").StatusError, "did not return within 200ms")
	second := m.ReportWithStatus(context.Background())
	assert.Contains(t, componentByName(t, second, "hang").StatusError, "the previous call has not returned yet")
	assert.Contains(t, componentByName(t, second, "ctx").StatusError, "within 200ms (COMPONENT_TIMEOUT)")
}
