package bench

import (
	"slices"
	"testing"
	"time"
)

// benchSide is one side of an interleaved comparison: run does n ops.
type benchSide struct {
	name      string
	chunk     int // ops per turn
	allocRuns int // runs of testing.AllocsPerRun for <name>-allocs/<unit>; 0: not measured
	run       func(n int)
}

// runInterleaved runs the sides in turns, chunk ops at a time, in order in
// even iterations and in reverse order in odd ones, and reports for each
// side <name>-ns/<unit> (wall time per op), <name>-cpu-ns/<unit> (this
// process's CPU time per op) and, if asked, <name>-allocs/<unit>. It is
// runInterleaved of the library's bench_helpers_test.go.
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
