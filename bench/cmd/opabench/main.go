// Command opabench runs opa-go's benchmarks and prints one table of figures,
// baselines, ratios and targets (the table of ../BENCHMARKS.md). run.sh
// (`make bench`) starts it in the bench directory.
//
// It builds what it needs into build/ (the library's and this module's test
// binaries, the go-plugin RPC plugin, the Startup host and bare loader, 20
// distinct .so plugins generated into build/_src, and for the opa add
// comparison the opa command, serve's test host and 4 plugins in
// build/add), then
//
//   - runs the Go benchmarks in rounds, each round one run of every
//     benchmark, the order of each comparison's sides reversed every other
//     round (BENCH_REVERSE), and pairs the two sides of each comparison
//     round by round;
//   - times fresh processes of the Startup host and of the bare loader,
//     alternately (host first, then bare first), after a warm-up of each;
//   - times `opa add` of one changed plugin into a running host against a
//     plain go build, rename and SIGHUP (add.go), in turns, after a
//     warm-up of each.
//
// Figures and baselines are medians over the rounds; a ratio is the median
// of the per-round ratios. A missed target does not fail the run: only a
// failure to build or run something does (exit status 1).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type config struct {
	rounds         int    // rounds of the Go benchmarks
	startupRounds  int    // processes of each side of the Startup comparison
	benchtime      string // -test.benchtime of the hook and RPC benchmarks
	routeTime      string // -test.benchtime of the route benchmarks
	discoverTime   string // -test.benchtime of the discovery benchmarks
	startupPlugins int    // .so plugins Startup loads
	addRounds      int    // rounds of the opa add comparison
	root, benchDir string // the library's module, and this one
	build, results string // build/ and build/results/
	started        time.Time
	startupTimeout time.Duration // for one process
}

func main() {
	var c config
	flag.IntVar(&c.rounds, "rounds", 5, "rounds of the Go benchmarks")
	flag.IntVar(&c.startupRounds, "startup-rounds", 24, "fresh processes of each side of the Startup comparison (a multiple of 6 gives each side every place in the order equally often)")
	flag.StringVar(&c.benchtime, "benchtime", "500ms", "-test.benchtime of the hook and RPC benchmarks")
	flag.StringVar(&c.routeTime, "route-benchtime", "2s", "-test.benchtime of the route benchmarks (their ratio must be steady to 1%)")
	flag.StringVar(&c.discoverTime, "discover-benchtime", "1500ms", "-test.benchtime of the discovery benchmarks")
	quick := flag.Bool("quick", false, "one short round of everything, to check that it all runs (figures are not meaningful)")
	flag.IntVar(&c.addRounds, "add-rounds", 10, "rounds of the opa add comparison (each runs opa add and the plain build once)")
	startupOnly := flag.Bool("startup-only", false, "run only the Startup comparison (fresh processes, time and memory); the other rows read n/a")
	addOnly := flag.Bool("add-only", false, "run only the opa add comparison (a running host, one changed plugin); the other rows read n/a")
	flag.Parse()
	if *startupOnly && *addOnly {
		fail(fmt.Errorf("-startup-only and -add-only: give one of them"))
	}
	if *quick {
		c.rounds, c.startupRounds, c.benchtime, c.routeTime, c.discoverTime, c.addRounds = 1, 2, "20ms", "20ms", "1x", 1
	}
	if *startupOnly {
		c.rounds, c.addRounds = 0, 0
	}
	if *addOnly {
		c.rounds, c.startupRounds = 0, 0
	}
	c.startupPlugins = 20
	c.startupTimeout = 2 * time.Minute
	c.started = time.Now()

	wd, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	c.benchDir = wd
	c.root = filepath.Dir(wd)
	c.build = filepath.Join(wd, "build")
	c.results = filepath.Join(c.build, "results")
	if _, err := os.Stat(filepath.Join(c.root, "go.mod")); err != nil {
		fail(fmt.Errorf("run opabench in the bench directory of opa-go (run.sh does): %w", err))
	}
	if err := os.MkdirAll(c.results, 0o755); err != nil {
		fail(err)
	}

	m := machine(c)
	progress("building into %s", c.build)
	if !*addOnly {
		if err := buildAll(c); err != nil {
			fail(err)
		}
		if err := checkStartup(c); err != nil {
			// The library's source may have changed while the plugins were
			// built (others edit the tree): the go command rebuilds what is
			// out of date, so one more build makes host and plugins alike
			// again.
			progress("%v\nbuilding again", err)
			if err := buildAll(c); err != nil {
				fail(err)
			}
			if err := checkStartup(c); err != nil {
				fail(err)
			}
		}
	}
	if c.addRounds > 0 {
		if err := buildAdd(c); err != nil {
			fail(err)
		}
	}
	res := newResults()
	for r := range c.rounds {
		progress("round %d/%d of the Go benchmarks", r+1, c.rounds)
		if err := benchRound(c, r, res); err != nil {
			fail(err)
		}
	}
	if c.startupRounds > 0 {
		progress("Startup: %d fresh processes of each program, in turns", c.startupRounds)
		if err := startupRounds(c, res); err != nil {
			fail(err)
		}
	}
	if c.addRounds > 0 {
		progress("opa add: %d rounds of opa add and of a plain build and reload, in turns", c.addRounds)
		if err := addRounds(c, res); err != nil {
			fail(err)
		}
	}
	m.loadEnd = loadAvg()
	m.elapsed = time.Since(c.started).Round(time.Second)

	table := renderTable(m, res, rows(c))
	fmt.Print(table)
	if err := os.WriteFile(filepath.Join(c.results, "table.md"), []byte(table), 0o644); err != nil {
		fail(err)
	}
}

// machineInfo is what the table's header says about the run.
type machineInfo struct {
	goVersion, cpu, kernel string
	cores                  int
	loadStart, loadEnd     string
	elapsed                time.Duration
	c                      config
}

func machine(c config) *machineInfo {
	m := &machineInfo{c: c, cores: runtime.NumCPU(), loadStart: loadAvg()}
	if out, err := output(c.benchDir, nil, "go", "version"); err == nil {
		m.goVersion = strings.TrimSpace(out)
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = runtime.GOOS + " " + strings.TrimSpace(string(data))
	} else {
		m.kernel = runtime.GOOS
	}
	return m
}

// loadAvg is the 1, 5 and 15 minute load averages, where the system says.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "opabench: "+format+"\n", args...)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "opabench:", err)
	os.Exit(1)
}
