package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// results holds every measurement: per benchmark name (without its
// -GOMAXPROCS suffix), per round, the value of each unit ("ns/op",
// "cpu-ns/op", "allocs/op", ...).
type results struct {
	runs map[string]map[int]map[string]float64
}

func newResults() *results { return &results{runs: map[string]map[int]map[string]float64{}} }

func (r *results) add(name string, round int, unit string, v float64) {
	if r.runs[name] == nil {
		r.runs[name] = map[int]map[string]float64{}
	}
	if r.runs[name][round] == nil {
		r.runs[name][round] = map[string]float64{}
	}
	r.runs[name][round][unit] = v
}

// values returns the values of name in unit, by round.
func (r *results) values(name, unit string) map[int]float64 {
	out := map[int]float64{}
	for round, units := range r.runs[name] {
		if v, ok := units[unit]; ok {
			out[round] = v
		}
	}
	return out
}

// benchRun is one run of a test binary's benchmarks.
type benchRun struct {
	binary, dir, pattern, benchtime, out string
	env                                  []string
}

// benchRound runs every Go benchmark once, the sides of each comparison in
// reverse order every other round.
func benchRound(c config, round int, res *results) error {
	env := []string{"BENCH_RPC_PLUGIN=" + c.rpcPlugin()}
	if round%2 == 1 {
		env = append(env, "BENCH_REVERSE=1")
	} else {
		env = append(env, "BENCH_REVERSE=")
	}
	runs := []benchRun{
		{c.opaTest(), c.root, "^(BenchmarkHookCall|BenchmarkHookParallel)$", c.benchtime, "opa.txt", env},
		{c.opaTest(), c.root, "^BenchmarkRoute$", c.routeTime, "opa-route.txt", env},
		{c.opaTest(), c.root, "^BenchmarkDiscover$", c.discoverTime, "opa-discover.txt", env},
		{c.benchTest(), c.benchDir, "^BenchmarkRPC$", c.benchtime, "bench.txt", env},
	}
	for _, br := range runs {
		out, err := output(br.dir, br.env, br.binary, "-test.run=^$", "-test.bench="+br.pattern,
			"-test.benchtime="+br.benchtime, "-test.count=1")
		if err != nil {
			return err
		}
		if err := appendFile(filepath.Join(c.results, br.out), round, out); err != nil {
			return err
		}
		if n := parseBench(out, round, res); n == 0 {
			return fmt.Errorf("%s -test.bench=%s printed no benchmark results:\n%s", br.binary, br.pattern, out)
		}
	}
	return nil
}

// appendFile keeps the raw output, in the format benchstat reads; the
// first round starts the file afresh.
func appendFile(file string, round int, out string) error {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if round == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(file, flags, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(out); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseBench reads benchmark result lines ("BenchmarkX/y-2  N  1.5 ns/op
// 0 allocs/op ...") into res, and returns how many it read.
func parseBench(out string, round int, res *results) int {
	n := 0
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			res.add(name, round, f[i+1], v)
		}
		n++
	}
	return n
}
