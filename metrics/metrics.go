// Package metrics exports an opa Manager's counters (opa.Manager.Stats) as
// Prometheus metrics: a prometheus.Collector that reads a snapshot at each
// scrape, so a request costs nothing more than opa's own counting.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewCollector(opa.GetManager))
//	admin.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metrics:
//
//	opa_plugin_requests_total{plugin,code}          counter: responses of a plugin's routes, code "1xx" to "5xx"
//	opa_plugin_request_duration_seconds{plugin}     histogram: latency of the timed requests (opa.WithLatencySampling)
//	opa_plugin_panics_total{plugin}                 counter: panics in a plugin's handlers
//	opa_hook_calls_total{hook,plugin}               counter: CallHook calls of a hook
//	opa_hook_errors_total{hook,plugin}              counter: those that returned an error
//	opa_plugins{state}                              gauge: plugin candidates by state (loaded, setup_failed, refused, skipped)
//	opa_component_up{component}                     gauge: 1 when a component is connected
//	opa_reloads_total{outcome}                      counter: reloads the host counted (opa.Manager.CountReload)
//	opa_jobs{component,queue,state}                 gauge: unfinished jobs of a job-queue component (river), by queue and state
package metrics

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opa-stack/opa-go"
)

// Collector is a prometheus.Collector of one opa Manager's counters.
type Collector struct {
	manager func() *opa.Manager

	requests, duration, panics, hookCalls, hookErrors, plugins, componentUp, reloads, jobs *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector of the Manager that manager returns at
// each scrape: opa.GetManager for the package-level Startup, or a func
// returning the host's own Manager. A nil Manager gives no metrics.
func NewCollector(manager func() *opa.Manager) *Collector {
	return &Collector{
		manager: manager,
		requests: prometheus.NewDesc("opa_plugin_requests_total",
			"Responses of the plugin's routes, by status class.", []string{"plugin", "code"}, nil),
		duration: prometheus.NewDesc("opa_plugin_request_duration_seconds",
			"Latency of the plugin's routes, of one request in opa.WithLatencySampling's n.", []string{"plugin"}, nil),
		panics: prometheus.NewDesc("opa_plugin_panics_total",
			"Panics in the plugin's handlers and middleware.", []string{"plugin"}, nil),
		hookCalls: prometheus.NewDesc("opa_hook_calls_total",
			"CallHook calls of the hook; HookFunc and HookRef calls are not counted.", []string{"hook", "plugin"}, nil),
		hookErrors: prometheus.NewDesc("opa_hook_errors_total",
			"CallHook calls of the hook that returned an error.", []string{"hook", "plugin"}, nil),
		plugins: prometheus.NewDesc("opa_plugins",
			"Plugin candidates by state: loaded, setup_failed, refused (a step failed) or skipped (a filter or a shadow).", []string{"state"}, nil),
		componentUp: prometheus.NewDesc("opa_component_up",
			"1 when the optional component is connected, else 0.", []string{"component"}, nil),
		reloads: prometheus.NewDesc("opa_reloads_total",
			"Reloads of the host process, by outcome, as the host counted them.", []string{"outcome"}, nil),
		jobs: prometheus.NewDesc("opa_jobs",
			"Unfinished jobs of a job-queue component (the river driver), by queue and state (available, pending, scheduled, retryable, running); a state with no job is left out.", []string{"component", "queue", "state"}, nil),
	}
}

// Describe sends the descriptions of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.duration, c.panics, c.hookCalls, c.hookErrors, c.plugins, c.componentUp, c.reloads, c.jobs} {
		ch <- d
	}
}

// classes are the values of the code label, by PluginStats.Responses index.
var classes = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Collect reads a snapshot of the Manager's counters (Manager.Stats and
// Manager.ReportWithStatus, which asks each connected component for its
// Status) and sends them as metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	m := c.manager()
	if m == nil {
		return
	}
	st := m.Stats()
	for _, p := range st.Plugins {
		for i, n := range p.Responses {
			ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(n), valid(p.Plugin, classes[i])...)
		}
		ch <- prometheus.MustNewConstMetric(c.panics, prometheus.CounterValue, float64(p.Panics), valid(p.Plugin)...)
		buckets := make(map[float64]uint64, len(p.Latency.Bounds))
		var cum uint64
		for i, b := range p.Latency.Bounds {
			cum += p.Latency.Counts[i]
			buckets[b] = cum
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, p.Latency.Count, p.Latency.Sum, buckets, valid(p.Plugin)...)
	}
	for _, h := range st.Hooks {
		ch <- prometheus.MustNewConstMetric(c.hookCalls, prometheus.CounterValue, float64(h.Calls), valid(h.Hook, h.Plugin)...)
		ch <- prometheus.MustNewConstMetric(c.hookErrors, prometheus.CounterValue, float64(h.Errors), valid(h.Hook, h.Plugin)...)
	}
	for _, comp := range st.Components {
		up := 0.0
		if comp.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.componentUp, prometheus.GaugeValue, up, valid(comp.Component)...)
	}
	for outcome, n := range st.Reloads {
		ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(n), valid(outcome)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	rep := m.ReportWithStatus(ctx)
	states := map[string]float64{"loaded": 0, "setup_failed": 0, "skipped": 0, "refused": 0}
	for _, p := range rep.Plugins {
		states[pluginState(p)]++
	}
	for _, comp := range rep.Components {
		for queue, byState := range queueCounts(comp.Status) {
			for state, n := range byState {
				ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, n, valid(comp.Name, queue, state)...)
			}
		}
	}
	for state, n := range states {
		ch <- prometheus.MustNewConstMetric(c.plugins, prometheus.GaugeValue, n, state)
	}
}

// valid returns label values Prometheus accepts: a value that is not
// UTF-8 (a plugin named after a directory in another encoding) made the
// Must constructors panic, and every scrape fail, Go's own metrics too.
func valid(values ...string) []string {
	for i, v := range values {
		values[i] = strings.ToValidUTF8(v, "\uFFFD")
	}
	return values
}

// statusTimeout bounds the components' Status calls of one scrape (each
// is also bounded by opa.StatusTimeout).
const statusTimeout = 5 * time.Second

// queueCounts reads the job counts by queue and state from a component's
// status, as the river driver reports them ({"queues": {QUEUE: {STATE:
// N}}}, as the report's plain JSON values, numbers as json.Number); nil
// for any other status.
func queueCounts(status any) map[string]map[string]float64 {
	top, ok := status.(map[string]any)
	if !ok {
		return nil
	}
	queues, ok := top["queues"].(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]map[string]float64{}
	for queue, v := range queues {
		states, ok := v.(map[string]any)
		if !ok {
			continue
		}
		for state, n := range states {
			num, ok := n.(json.Number)
			if !ok {
				continue
			}
			f, err := num.Float64()
			if err != nil {
				continue
			}
			if out[queue] == nil {
				out[queue] = map[string]float64{}
			}
			out[queue][state] = f
		}
	}
	return out
}

// pluginState is the state of a plugin candidate, as the report page
// gives it: "loaded", "setup_failed" (loaded, then a setup failed),
// "refused" (a step failed) or "skipped" (a filter, or shadowed by a
// plugin of the same name).
func pluginState(p opa.PluginReport) string {
	switch {
	case p.Loaded && p.Error != "":
		return "setup_failed"
	case p.Loaded:
		return "loaded"
	case p.Step != "":
		return "refused"
	}
	return "skipped"
}
