package opa

import (
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of the buckets of each
// plugin's route latency histogram (PluginStats.Latency): fixed, so that
// counting a request is one atomic add, and the same as Prometheus's
// default buckets with 1 ms and 2.5 ms added for fast routes.
var LatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// latencyBounds are LatencyBuckets in nanoseconds, for observe.
var latencyBounds = func() (out [14]int64) {
	for i, s := range LatencyBuckets {
		out[i] = int64(s * float64(time.Second))
	}
	return out
}()

// routeStats are the counters of one plugin's routes. Each is an atomic
// counter of its own, in an allocation of its own (not beside the
// read-mostly fields of a pluginHandler, which every request reads).
type routeStats struct {
	requests   atomic.Uint64
	classes    [5]atomic.Uint64 // 1xx to 5xx, by the status written
	panics     atomic.Uint64
	buckets    [len(latencyBounds) + 1]atomic.Uint64 // the last is above the last bound
	latencySum atomic.Int64                          // nanoseconds
}

// count counts one response of status code.
func (s *routeStats) count(code int) {
	if c := code/100 - 1; c >= 0 && c < len(s.classes) {
		s.classes[c].Add(1)
	}
}

// observe counts one timed request that took d.
func (s *routeStats) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && int64(d) > latencyBounds[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.latencySum.Add(int64(d))
}

// hookStats are the counters of the winning hook of a name, kept apart
// from the hookEntry that HookFunc reads.
type hookStats struct {
	calls  atomic.Uint64
	errors atomic.Uint64
}

// Stats is a snapshot of a Manager's counters: what each plugin's routes
// served, what each hook was called, whether each component is up, and
// the reloads the host counted. Counters start at zero with Startup and
// only grow; a Prometheus exporter reads them as counters.
type Stats struct {
	Plugins    []PluginStats    `json:"plugins"`    // every loaded plugin, in plugin order
	Hooks      []HookStats      `json:"hooks"`      // every hook that won its name, sorted by name
	Components []ComponentStats `json:"components"` // every configured component, in connect order
	// Reloads counts the reloads this process knows of, by outcome (see
	// CountReload); nil when none.
	Reloads map[string]uint64 `json:"reloads,omitempty"`
}

// PluginStats is what one plugin's routes served. A plugin without routes
// has only zeros.
type PluginStats struct {
	Plugin   string `json:"plugin"`
	Requests uint64 `json:"requests"` // requests that reached the plugin's routes
	// Responses counts the responses by class: Responses[0] is 1xx (and a
	// hijacked connection), Responses[4] is 5xx. A response with no status
	// written is the 200 net/http sends.
	Responses [5]uint64 `json:"responses"`
	Panics    uint64    `json:"panics"` // panics in its handlers and middleware
	// Latency is the histogram of the timed requests: the first, then one
	// in every WithLatencySampling's n (DefaultLatencySampling), so its
	// Count is about Requests/n.
	Latency Histogram `json:"latency"`
}

// Status5xx is the number of 5xx responses, a recovered panic's included.
func (p PluginStats) Status5xx() uint64 { return p.Responses[4] }

// Histogram is a latency histogram: Counts[i] is the number of requests
// that took at most Bounds[i] seconds and more than Bounds[i-1];
// Counts[len(Bounds)] those above the last bound.
type Histogram struct {
	Bounds []float64 `json:"bounds"` // upper bounds, in seconds (LatencyBuckets)
	Counts []uint64  `json:"counts"` // per bucket, not cumulative
	Count  uint64    `json:"count"`  // the sum of Counts
	Sum    float64   `json:"sum"`    // the total of the latencies, in seconds
}

// Quantile estimates the q-quantile (0 < q < 1) in seconds, by linear
// interpolation inside the bucket it falls in, as Prometheus's
// histogram_quantile does; the last bound for the top bucket, and NaN for
// an empty histogram or one whose Counts do not fit its Bounds (one more
// count than bounds, and at least one bound).
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 || len(h.Bounds) == 0 || len(h.Counts) != len(h.Bounds)+1 {
		return math.NaN()
	}
	rank := q * float64(h.Count)
	var seen uint64
	for i, c := range h.Counts {
		if float64(seen+c) < rank || c == 0 {
			seen += c
			continue
		}
		if i == len(h.Bounds) {
			return h.Bounds[len(h.Bounds)-1]
		}
		lo := 0.0
		if i > 0 {
			lo = h.Bounds[i-1]
		}
		return lo + (h.Bounds[i]-lo)*(rank-float64(seen))/float64(c)
	}
	return h.Bounds[len(h.Bounds)-1]
}

// HookStats is what CallHook called of one hook name. Calls through
// HookFunc, HookFuncOf and HookRef are not counted: they are direct calls
// of the func.
type HookStats struct {
	Hook   string `json:"hook"`
	Plugin string `json:"plugin"` // the plugin whose hook won
	Calls  uint64 `json:"calls"`
	// Errors counts the calls that returned an error: a wrong call
	// (ErrBadCall), a panic, or the hook's own error.
	Errors uint64 `json:"errors"`
}

// ComponentStats is whether one configured component is up.
type ComponentStats struct {
	Component string `json:"component"`
	State     string `json:"state"` // as in ComponentReport
	Up        bool   `json:"up"`    // State is StateConnected
}

// reloadCounts are the reloads a host counted with CountReload, and the
// last of them.
type reloadCounts struct {
	mu     sync.Mutex
	counts map[string]uint64
	last   *ReloadReport
}

// ReloadReport is the last reload a host counted (Report.LastReload).
type ReloadReport struct {
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`         // "ok", "failed", "cancelled", as the host said
	Error   string    `json:"error,omitempty"` // why it failed, redacted
}

// CountReload counts a reload of the host process with its outcome (for
// example "ok" or "failed") and, for one that failed, its error, for Stats
// and the report, which also shows the last one: when, its outcome and its
// error. opa does not reload a process itself: a host that does (package
// serve, whose Config.OnReload gives both) counts each try here; the new
// process of a reload that worked counts it as "ok".
func (m *Manager) CountReload(outcome string, err error) {
	last := &ReloadReport{At: time.Now(), Outcome: outcome}
	if err != nil {
		last.Error = m.red.scrub(err.Error())
	}
	m.reloads.mu.Lock()
	defer m.reloads.mu.Unlock()
	if m.reloads.counts == nil {
		m.reloads.counts = map[string]uint64{}
	}
	m.reloads.counts[outcome]++
	m.reloads.last = last
}

// lastReload returns a copy of the last reload counted, or nil.
func (m *Manager) lastReload() *ReloadReport {
	m.reloads.mu.Lock()
	defer m.reloads.mu.Unlock()
	if m.reloads.last == nil {
		return nil
	}
	last := *m.reloads.last
	return &last
}

// Stats returns a snapshot of the Manager's counters; see Stats. Each
// counter is read atomically, the snapshot as a whole is not: a request
// that ends while it is taken may be in Requests and not yet in Responses.
func (m *Manager) Stats() Stats {
	var s Stats
	if st := m.st.Load(); st != nil {
		byName := m.routes.Load().statsByPlugin()
		for _, lp := range st.plugins {
			ps := PluginStats{Plugin: lp.name, Latency: Histogram{Bounds: slices.Clone(LatencyBuckets), Counts: make([]uint64, len(LatencyBuckets)+1)}}
			if rs := byName[lp.name]; rs != nil {
				rs.snapshot(&ps)
			}
			s.Plugins = append(s.Plugins, ps)
		}
		for _, name := range slices.Sorted(maps.Keys(st.hooks.winners)) {
			e := st.hooks.winners[name]
			s.Hooks = append(s.Hooks, HookStats{Hook: name, Plugin: e.plugin, Calls: e.stats.calls.Load(), Errors: e.stats.errors.Load()})
		}
	}
	if rep := m.report.Load(); rep != nil {
		for _, c := range rep.Components {
			s.Components = append(s.Components, ComponentStats{Component: c.Name, State: c.State, Up: c.State == StateConnected && m.phaseIs(phaseStarted)})
		}
	}
	m.reloads.mu.Lock()
	if len(m.reloads.counts) > 0 {
		s.Reloads = maps.Clone(m.reloads.counts)
	}
	m.reloads.mu.Unlock()
	return s
}

// phaseIs reports whether the stored report was taken in phase p.
func (m *Manager) phaseIs(p phase) bool {
	rep := m.report.Load()
	return rep != nil && rep.State == p.String()
}

// snapshot reads the counters into ps.
func (s *routeStats) snapshot(ps *PluginStats) {
	// Responses and latencies first, requests last: a request counted in
	// Responses was counted in Requests before it.
	for i := range s.classes {
		ps.Responses[i] = s.classes[i].Load()
	}
	ps.Panics = s.panics.Load()
	var n uint64
	for i := range s.buckets {
		c := s.buckets[i].Load()
		ps.Latency.Counts[i] = c
		n += c
	}
	ps.Latency.Count = n
	ps.Latency.Sum = time.Duration(s.latencySum.Load()).Seconds()
	ps.Requests = s.requests.Load()
}

// statsByPlugin returns each plugin's route counters, by plugin name.
func (h *hostRoutes) statsByPlugin() map[string]*routeStats {
	if h == nil {
		return nil
	}
	out := map[string]*routeStats{}
	for _, ph := range h.mounted {
		out[ph.plugin] = ph.stats
	}
	return out
}

// addTraffic sets the Traffic of each plugin of rep that has routes, and
// rep's Reloads. rep is a copy: its Plugins are cloned before they change.
func (m *Manager) addTraffic(rep *Report) {
	st := m.Stats()
	rep.Reloads = st.Reloads
	rep.LastReload = m.lastReload()
	byName := map[string]PluginStats{}
	for _, ps := range st.Plugins {
		byName[ps.Plugin] = ps
	}
	mounted := m.routes.Load().statsByPlugin()
	rep.Plugins = slices.Clone(rep.Plugins)
	for i, p := range rep.Plugins {
		if ps, ok := byName[p.Name]; ok && p.Loaded && mounted[p.Name] != nil {
			rep.Plugins[i].Traffic = trafficReport(ps)
		}
	}
}

// trafficReport is the figures the report shows for a plugin's routes.
func trafficReport(ps PluginStats) *PluginTraffic {
	t := &PluginTraffic{Requests: ps.Requests, Status5xx: ps.Status5xx(), Panics: ps.Panics}
	if ps.Latency.Count > 0 {
		t.P50ms = roundMS(ps.Latency.Quantile(0.5))
		t.P99ms = roundMS(ps.Latency.Quantile(0.99))
	}
	return t
}

func roundMS(sec float64) float64 { return math.Round(sec*1e6) / 1e3 }

// PluginTraffic is what a plugin's routes served since Startup, in the
// report: its requests, 5xx responses and panics, and the median and 99th
// percentile latency estimated from its histogram (see Stats).
type PluginTraffic struct {
	Requests  uint64  `json:"requests"`
	Status5xx uint64  `json:"status_5xx"`
	Panics    uint64  `json:"panics"`
	P50ms     float64 `json:"p50_ms,omitempty"`
	P99ms     float64 `json:"p99_ms,omitempty"`
}
