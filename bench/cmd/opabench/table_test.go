package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseBenchAndRows(t *testing.T) {
	res := newResults()
	out := `goos: linux
BenchmarkHookCall/add-2   	100	 900 ns/op	 0 HookFunc-allocs/call	 5.60 HookFunc-cpu-ns/call	 0 direct-allocs/call	 1.40 direct-cpu-ns/call	 1.41 returned-cpu-ns/call
BenchmarkRoute/routes=1-2 	100	 900 ns/op	 97 direct-cpu-ns/req	 100 plugin-cpu-ns/req
BenchmarkHookParallel/HookFunc/goroutines=1-2 	100	 500 ns/op	 5.0 ns/call
PASS
`
	if n := parseBench(out, 0, res); n != 3 {
		t.Fatalf("parsed %d lines, want 3", n)
	}
	parseBench(strings.ReplaceAll(out, "5.60 HookFunc", "6.00 HookFunc"), 1, res)
	parseBench(strings.ReplaceAll(out, "5.60 HookFunc", "5.00 HookFunc"), 2, res)
	if got := res.values("HookCall/add", "HookFunc-cpu-ns/call")[1]; got != 6 {
		t.Fatalf("round 1 HookFunc = %v, want 6", got)
	}
	hookSide := func(unit string) side {
		return side{bench: "HookCall/add", unit: unit + "-cpu-ns/call", allocs: unit + "-allocs/call"}
	}

	hook := renderRow(res, row{what: "w", subject: hookSide("HookFunc"), baseline: hookSide("direct"), baseWhat: "direct",
		limit: 4, zeroAllocs: true})
	if !strings.Contains(hook, "| 4.00x |") || !strings.Contains(hook, "| met |") || !strings.Contains(hook, "5.60 ns CPU, 0 allocs") {
		t.Errorf("hook row: %s", hook)
	}
	tight := renderRow(res, row{what: "w", subject: hookSide("HookFunc"), baseline: hookSide("direct"), limit: 3.9})
	if !strings.Contains(tight, "**missed**") {
		t.Errorf("a ratio over its limit is missed: %s", tight)
	}
	equal := renderRow(res, row{what: "w", subject: side{bench: "HookCall/add", unit: "returned-cpu-ns/call"},
		baseline: side{bench: "HookCall/add", unit: "direct-cpu-ns/call"}, limit: 1, oneDecimal: true})
	if !strings.Contains(equal, "| 1.01x | 1.0x | met |") {
		t.Errorf("equal row: %s", equal)
	}
	route := renderRow(res, row{what: "w", subject: side{bench: "Route/routes=1", unit: "plugin-cpu-ns/req"},
		baseline: side{bench: "Route/routes=1", unit: "direct-cpu-ns/req"}, kind: throughputRatio, limit: 0.97})
	if !strings.Contains(route, "0.97x throughput") || !strings.Contains(route, "| met |") {
		t.Errorf("route row: %s", route)
	}
	missing := renderRow(res, row{what: "w", subject: side{bench: "Nope", unit: "x"}, baseline: hookSide("direct"), limit: 1})
	if !strings.Contains(missing, "n/a") || !strings.Contains(missing, "**missed**") {
		t.Errorf("a row without figures: %s", missing)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

func TestFmtValueMemory(t *testing.T) {
	if got := fmtValue(123.456, "mem-mb"); got != "123.5 MiB" {
		t.Errorf("fmtValue(123.456, mem-mb) = %q", got)
	}
	if got := fmtValue(451.4, "wall-ms"); got != "451.4 ms wall" {
		t.Errorf("fmtValue(451.4, wall-ms) = %q", got)
	}
}
