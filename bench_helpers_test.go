package opa_test

// Helpers of the benchmarks (bench_*_test.go). Benchmarks run only with
// -bench; bench/run.sh runs them in rounds and prints the table of
// BENCHMARKS.md.

import (
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"
)

// benchQuietLog drops every log record.
func benchQuietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// benchSide is one side of an interleaved comparison (see runInterleaved):
// run does n ops.
type benchSide struct {
	name      string
	chunk     int // ops per turn: enough that a turn takes ~0.1-1 ms, or one op of a slow side
	allocRuns int // runs of testing.AllocsPerRun for <name>-allocs/<unit>; 0: not measured
	run       func(n int)
}

// runInterleaved compares sides by running them in turns, chunk ops at a
// time: each of the b.N iterations gives every side one turn, in order in
// even iterations and in reverse order in odd ones. The sides thus share
// whatever the machine does meanwhile (other engineers' builds on 2 shared
// cores), which makes their ratio far steadier than that of two benchmarks
// run one after the other. For each side it reports <name>-ns/<unit> (wall
// time per op), <name>-cpu-ns/<unit> (the process's CPU time per op, where
// known) and, if asked, <name>-allocs/<unit>.
func runInterleaved(b *testing.B, unit string, sides ...benchSide) {
	b.Helper()
	allocs := make([]float64, len(sides))
	for k, s := range sides {
		if s.allocRuns > 0 {
			allocs[k] = testing.AllocsPerRun(s.allocRuns, func() { s.run(1) })
		}
	}
	wall := make([]time.Duration, len(sides))
	cpu := make([]time.Duration, len(sides))
	cpuOK := true
	order := make([]int, len(sides))
	b.ResetTimer()
	for i := range b.N {
		for k := range order {
			order[k] = k
		}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, k := range order {
			s := sides[k]
			c0, ok0 := processCPU()
			t0 := time.Now()
			s.run(s.chunk)
			wall[k] += time.Since(t0)
			c1, ok1 := processCPU()
			cpu[k] += c1 - c0
			cpuOK = cpuOK && ok0 && ok1
		}
	}
	b.StopTimer()
	for k, s := range sides {
		ops := float64(b.N) * float64(s.chunk)
		b.ReportMetric(float64(wall[k].Nanoseconds())/ops, s.name+"-ns/"+unit)
		if cpuOK {
			b.ReportMetric(float64(cpu[k].Nanoseconds())/ops, s.name+"-cpu-ns/"+unit)
		}
		if s.allocRuns > 0 {
			b.ReportMetric(allocs[k], s.name+"-allocs/"+unit)
		}
	}
}

// benchCase is one sub-benchmark of a comparison run with runCases.
type benchCase struct {
	name string
	fn   func(b *testing.B)
}

// runCases runs cases as sub-benchmarks, in order, or in reverse order when
// BENCH_REVERSE is set (bench/run.sh alternates it between rounds), for
// comparisons that cannot be interleaved. Each op does n things (calls, ...):
// besides ns/op and the allocations, each case reports ns/<what> (wall time
// per thing) and cpu-ns/<what> (the process's CPU time per thing).
func runCases(b *testing.B, n int, what string, cases ...benchCase) {
	if os.Getenv("BENCH_REVERSE") != "" {
		cases = slices.Clone(cases)
		slices.Reverse(cases)
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			c0, ok0 := processCPU()
			c.fn(b)
			c1, ok1 := processCPU()
			if b.N == 0 {
				return
			}
			per := float64(b.N) * float64(n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/"+what)
			if ok0 && ok1 {
				b.ReportMetric(float64((c1-c0).Nanoseconds())/per, "cpu-ns/"+what)
			}
		})
	}
}
