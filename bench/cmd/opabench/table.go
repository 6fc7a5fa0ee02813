package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// ratioKind says how a row compares its two sides.
type ratioKind int

const (
	// timeRatio is subject time / baseline time: lower is better, the target
	// a maximum.
	timeRatio ratioKind = iota
	// throughputRatio is subject throughput / baseline throughput (baseline
	// time / subject time): higher is better, the target a minimum.
	throughputRatio
)

// side is one side of a comparison: a benchmark, and its metrics.
type side struct {
	bench  string // the benchmark (without its -GOMAXPROCS suffix)
	unit   string // the metric compared, e.g. "opa-cpu-ns/run"
	also   string // another metric to show beside it; "" for none
	allocs string // its allocations metric to show; "" for none
}

// row is one line of the table.
type row struct {
	what       string // what is measured
	subject    side
	baseline   side
	baseWhat   string // what the baseline is
	kind       ratioKind
	limit      float64 // the target's bound on the ratio; 0: no target (information)
	oneDecimal bool    // the target is "limit" to one decimal: at most limit once rounded (below 1.05 for 1.0)
	zeroAllocs bool    // the target also wants 0 allocations for the subject
}

// rows are the targets (issues 6, 11, 13, 24, 25 and 28), then figures kept for information.
func rows(c config) []row {
	hook := func(bench, unit string) side {
		return side{bench: bench, unit: unit + "-cpu-ns/call", allocs: unit + "-allocs/call"}
	}
	cpuOnly := func(bench, unit string) side { return side{bench: bench, unit: unit} }
	parallel := func(bench string) side { return side{bench: bench, unit: "ns/call", also: "cpu-ns/call"} }
	return []row{
		{what: "hook through a `HookRef[F](name)` handle in a package var", subject: hook("HookCall/add", "handle"),
			baseline: hook("HookCall/add", "direct"), baseWhat: "direct call", limit: 1.5, zeroAllocs: true},
		{what: "hook through `HookFunc[F](name)` on each call", subject: hook("HookCall/add", "HookFunc"),
			baseline: hook("HookCall/add", "direct"), baseWhat: "direct call", limit: 10, zeroAllocs: true},
		{what: "calling the func `HookFunc` returned", subject: cpuOnly("HookCall/add", "returned-cpu-ns/call"),
			baseline: cpuOnly("HookCall/add", "direct-cpu-ns/call"), baseWhat: "direct call", limit: 1.0, oneDecimal: true},
		{what: "`CallHook(name, args...)`", subject: hook("HookCall/add-CallHook", "CallHook"),
			baseline: hook("HookCall/add-CallHook", "reflect"), baseWhat: "`reflect.Value.Call` by hand", limit: 1.0},
		{what: "`CallHook` with its counting (calls, errors)", subject: hook("HookCall/add-counting", "counted"),
			baseline: hook("HookCall/add-counting", "uncounted"), baseWhat: "`CallHook` without counting", limit: 1.05},
		{what: "`CallHook` from 64 goroutines, per call", subject: parallel("HookParallel/CallHook/goroutines=64"),
			baseline: parallel("HookParallel/CallHook/goroutines=1"), baseWhat: "1 goroutine", limit: 1.0},
		{what: "`HookFunc` from 64 goroutines, per call", subject: parallel("HookParallel/HookFunc/goroutines=64"),
			baseline: parallel("HookParallel/HookFunc/goroutines=1"), baseWhat: "1 goroutine", limit: 1.0},
		{what: "discovery + filters, 10,000 candidates", subject: cpuOnly("Discover/n=10000", "opa-cpu-ns/run"),
			baseline: cpuOnly("Discover/n=10000", "bare-cpu-ns/run"), baseWhat: "bare `ReadDir` + meta.json reads", limit: 2.0},
		{what: "discovery + filters, 10,000 candidates", subject: cpuOnly("Discover/n=10000", "opa-cpu-ns/run"),
			baseline: cpuOnly("Discover/n=1000", "opa-cpu-ns/run"), baseWhat: "the same, 1,000 candidates", limit: 11},
		{what: fmt.Sprintf("`Startup` of %d real .so plugins, private copies, fresh process", c.startupPlugins), subject: cpuOnly("Startup/opa", "wall-ms"),
			baseline: cpuOnly("Startup/bare", "wall-ms"), baseWhat: "bare `plugin.Open` + `Lookup`", limit: 1.20},
		{what: fmt.Sprintf("`Startup` of %d plugins, private copies and every check on (package hashes, build information, a SHA-256 pin each)", c.startupPlugins), subject: cpuOnly("Startup/opa-pinned", "wall-ms"),
			baseline: cpuOnly("Startup/bare", "wall-ms"), baseWhat: "bare `plugin.Open` + `Lookup`", limit: 1.30},
		{what: fmt.Sprintf("`Startup` of %d plugins with an opa.lock of them (every check on, each file hashed as it is staged)", c.startupPlugins), subject: cpuOnly("Startup/opa-locked", "wall-ms"),
			baseline: cpuOnly("Startup/opa-pinned", "wall-ms"), baseWhat: fmt.Sprintf("the same with %d `PLUGIN_SHA256` pins", c.startupPlugins), limit: 1.05},
		{what: fmt.Sprintf("`opa add` of one changed plugin into a running host (build + check + install + reload, warm cache, %d plugins installed)", len(addStatic)+1),
			subject: cpuOnly("AddReload/opa", "wall-ms"), baseline: cpuOnly("AddReload/plain", "wall-ms"),
			baseWhat: "plain `go build -buildmode=plugin` + rename + SIGHUP, to the reload's outcome", limit: 1.20},
		{what: fmt.Sprintf("memory after `Startup` of %d plugins: RSS, private copies on disk (the default)", c.startupPlugins), subject: cpuOnly("Startup/opa", "mem-mb"),
			baseline: cpuOnly("Startup/bare", "mem-mb"), baseWhat: "RSS after bare `plugin.Open` + `Lookup`", limit: 1.10},
		{what: "request to a plugin's route via the host router, counted (requests, class, panics, latency of 1 in 16)", subject: cpuOnly("Route/routes=1", "plugin-cpu-ns/req"),
			baseline: cpuOnly("Route/routes=1", "direct-cpu-ns/req"), baseWhat: "handler on a chi router", kind: throughputRatio, limit: 0.95},
		{what: "the same, 100 plugins × 10 routes mounted", subject: cpuOnly("Route/routes=1000", "plugin-cpu-ns/req"),
			baseline: cpuOnly("Route/routes=1000", "direct-cpu-ns/req"), baseWhat: "1,000 routes on a chi router", kind: throughputRatio, limit: 0.95},
		// Information: no target.
		{what: "the hook over go-plugin net/rpc, child process", subject: cpuOnly("RPC", "rpc-ns/call"),
			baseline: cpuOnly("RPC", "HookFunc-ns/call"), baseWhat: "in process via `HookFunc`"},
		{what: "`fullname` hook via `HookFunc` (README's example)", subject: hook("HookCall/fullname", "HookFunc"),
			baseline: hook("HookCall/fullname", "direct"), baseWhat: "direct call"},
		{what: "`fullname` via `CallHook`", subject: hook("HookCall/fullname-CallHook", "CallHook"),
			baseline: hook("HookCall/fullname-CallHook", "reflect"), baseWhat: "`reflect.Value.Call` by hand"},
		{what: "discovery + filters, 1,000 candidates", subject: cpuOnly("Discover/n=1000", "opa-cpu-ns/run"),
			baseline: cpuOnly("Discover/n=1000", "bare-cpu-ns/run"), baseWhat: "bare `ReadDir` + meta.json reads"},
		{what: "bare `ReadDir` + meta.json reads, 10,000 candidates", subject: cpuOnly("Discover/n=10000", "bare-cpu-ns/run"),
			baseline: cpuOnly("Discover/n=1000", "bare-cpu-ns/run"), baseWhat: "the same, 1,000 candidates"},
		{what: "`Startup` with files opened in place (`PLUGIN_OPEN_IN_PLACE`)", subject: cpuOnly("Startup/opa-inplace", "wall-ms"),
			baseline: cpuOnly("Startup/bare", "wall-ms"), baseWhat: "bare `plugin.Open` + `Lookup`"},
		{what: "`Startup` with private copies on a tmpfs (`PLUGIN_COPY_DIR=/dev/shm`)", subject: cpuOnly("Startup/opa-tmpfs", "wall-ms"),
			baseline: cpuOnly("Startup/bare", "wall-ms"), baseWhat: "bare `plugin.Open` + `Lookup`"},
		{what: "memory: RSS plus the tmpfs the copies hold (`PLUGIN_COPY_DIR=/dev/shm`)", subject: cpuOnly("Startup/opa-tmpfs", "mem-mb"),
			baseline: cpuOnly("Startup/bare", "mem-mb"), baseWhat: "RSS after bare `plugin.Open` + `Lookup`"},
		{what: "memory: RSS, files opened in place", subject: cpuOnly("Startup/opa-inplace", "mem-mb"),
			baseline: cpuOnly("Startup/bare", "mem-mb"), baseWhat: "RSS after bare `plugin.Open` + `Lookup`"},
		{what: "`opa add`, CPU time of it and its go commands (not the host's)", subject: cpuOnly("AddReload/opa", "cpu-ms"),
			baseline: cpuOnly("AddReload/plain", "cpu-ms"), baseWhat: "the plain `go build`"},
		{what: "`Startup`, CPU time of the process", subject: cpuOnly("Startup/opa", "cpu-ms"),
			baseline: cpuOnly("Startup/bare", "cpu-ms"), baseWhat: "bare `plugin.Open` + `Lookup`"},
		{what: "`Startup`: what it does at run time", subject: cpuOnly("Startup/opa", "wall-ms"),
			baseline: cpuOnly("Startup/bare-linked", "wall-ms"), baseWhat: "the bare loader linked with Startup's code"},
		{what: "`Startup`: the cost of linking it", subject: cpuOnly("Startup/bare-linked", "wall-ms"),
			baseline: cpuOnly("Startup/bare", "wall-ms"), baseWhat: "bare `plugin.Open` + `Lookup`"},
	}
}

// renderTable renders the header and the table in Markdown.
func renderTable(m *machineInfo, res *results, rows []row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## opa-go benchmarks\n\n")
	fmt.Fprintf(&b, "- machine: %s, %d cores, %s\n", orUnknown(m.cpu), m.cores, m.kernel)
	fmt.Fprintf(&b, "- %s\n", orUnknown(m.goVersion))
	fmt.Fprintf(&b, "- load average (1, 5, 15 min): %s at the start, %s at the end\n", m.loadStart, m.loadEnd)
	fmt.Fprintf(&b, "- %d rounds of Go benchmarks (-benchtime %s, routes %s, discovery %s), %d fresh processes of each Startup program, %d rounds of `opa add`; took %s\n\n",
		m.c.rounds, m.c.benchtime, m.c.routeTime, m.c.discoverTime, m.c.startupRounds, m.c.addRounds, m.elapsed)
	b.WriteString("| what | figure | baseline | ratio | target | result |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(renderRow(res, r))
	}
	b.WriteString(`
Figures and baselines are medians over the rounds; a ratio is the median of
the per-round ratios of the two sides, which ran back to back. "CPU" figures
are the process's CPU time per op (busy neighbours do not inflate them);
"wall" figures are elapsed time, for 64 goroutines the elapsed time divided
by all their calls (the inverse of throughput), with their CPU time per
call in brackets; Startup figures are per fresh process, opa add
figures per install and reload. For routes, the ratio is throughput
(baseline time / figure). See BENCHMARKS.md.
`)
	return b.String()
}

func renderRow(res *results, r row) string {
	subj, base := res.values(r.subject.bench, r.subject.unit), res.values(r.baseline.bench, r.baseline.unit)
	var ratios []float64
	for round, s := range subj {
		if bv, ok := base[round]; ok && s > 0 && bv > 0 {
			if r.kind == throughputRatio {
				ratios = append(ratios, bv/s)
			} else {
				ratios = append(ratios, s/bv)
			}
		}
	}
	figure, baseline := fmtSide(res, r.subject), fmtSide(res, r.baseline)
	baseline = r.baseWhat + ": " + baseline
	ratio := median(ratios)
	target, result := "—", "information"
	if r.limit > 0 {
		met := !math.IsNaN(ratio)
		switch {
		case r.oneDecimal:
			target = fmt.Sprintf("%.1fx", r.limit)
			met = met && ratio < r.limit+0.05
		case r.kind == throughputRatio:
			target = fmt.Sprintf("≥ %sx", fmtRatio(r.limit))
			met = met && ratio >= r.limit
		default:
			target = fmt.Sprintf("≤ %sx", fmtRatio(r.limit))
			met = met && ratio <= r.limit
		}
		if r.zeroAllocs {
			target += ", 0 allocs"
			met = met && median(values(res.values(r.subject.bench, r.subject.allocs))) == 0
		}
		result = "**missed**"
		if met {
			result = "met"
		}
	}
	ratioText := "n/a"
	if !math.IsNaN(ratio) {
		ratioText = fmtRatio(ratio) + "x"
		if r.kind == throughputRatio {
			ratioText += " throughput"
		}
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", r.what, figure, baseline, ratioText, target, result)
}

// fmtSide formats the median figure of one side, with its other metric and
// its allocations.
func fmtSide(res *results, s side) string {
	out := fmtValue(median(values(res.values(s.bench, s.unit))), s.unit)
	if s.also != "" {
		out += " (" + fmtValue(median(values(res.values(s.bench, s.also))), s.also) + ")"
	}
	if s.allocs != "" {
		out += ", " + fmtAllocs(median(values(res.values(s.bench, s.allocs))))
	}
	return out
}

func values(m map[int]float64) []float64 {
	out := make([]float64, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// median is the median of vs, NaN for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fmtValue formats a figure of unit with a readable time unit.
func fmtValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if unit == "mem-mb" {
		return fmt.Sprintf("%.1f MiB", v)
	}
	ns := v
	switch unit {
	case "wall-ms", "cpu-ms":
		ns = v * 1e6
	}
	var s string
	switch {
	case ns >= 1e9:
		s = fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		s = fmt.Sprintf("%.1f ms", ns/1e6)
	case ns >= 1e3:
		s = fmt.Sprintf("%.1f µs", ns/1e3)
	case ns >= 100:
		s = fmt.Sprintf("%.0f ns", ns)
	default:
		s = fmt.Sprintf("%.2f ns", ns)
	}
	if strings.Contains(unit, "cpu-") {
		s += " CPU"
	} else {
		s += " wall"
	}
	return s
}

func fmtAllocs(v float64) string {
	if math.IsNaN(v) {
		return "n/a allocs"
	}
	return fmt.Sprintf("%g allocs", v)
}

func fmtRatio(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
