package opa_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opa-stack/opa-go"
)

// benchCandidates makes n plugin candidates in dir: the even ones single
// files (pNNNNN.so and pNNNNN-meta.json), the odd ones directories
// (pNNNNN/plugin.so and pNNNNN/meta.json). Every .so is a placeholder: the
// filters of benchFilterConfig drop every candidate, so none is opened or
// even preflighted.
func benchCandidates(tb testing.TB, dir string, n int) {
	tb.Helper()
	for i := range n {
		name := fmt.Sprintf("p%05d", i)
		meta := fmt.Sprintf(`{"tags": ["team-%d", "tier-%d"], "version": "1.%d.0", "description": "benchmark candidate %d"}`, i%8, i%3, i, i)
		so, metaFile := filepath.Join(dir, name+".so"), filepath.Join(dir, name+"-meta.json")
		if i%2 == 1 {
			if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
				tb.Fatal(err)
			}
			so, metaFile = filepath.Join(dir, name, "plugin.so"), filepath.Join(dir, name, "meta.json")
		}
		if err := os.WriteFile(so, []byte("placeholder, never opened\n"), 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(metaFile, []byte(meta), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// benchFilterConfig sets all six filters so that every candidate of
// benchCandidates is decided by them and none is chosen: only 16 names are
// whitelisted, and each of those ends in 7, which the blacklist RE drops.
func benchFilterConfig(dir, defaultPath string) opa.Config {
	var white, black []string
	for i := range 16 {
		white = append(white, fmt.Sprintf("%s/p%05d", dir, i*10+7))
		black = append(black, fmt.Sprintf("%s/p%05d", dir, i*10+3))
	}
	return opa.Config{
		PluginPaths:       []string{dir},
		DefaultPluginPath: defaultPath,
		WhitelistList:     white,
		WhitelistRE:       `.*/p0`,
		WhitelistTags:     []string{"team-1", "team-2", "team-3"},
		BlacklistList:     black,
		BlacklistRE:       `.*7$`,
		BlacklistTags:     []string{"tier-0"},
	}
}

// bareDiscover does the file system work of discovery by hand: the same
// os.ReadDir, the same check that NAME/plugin.so exists and the same
// meta.json reads, and nothing else.
func bareDiscover(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	read := 0
	for _, e := range entries {
		name := e.Name()
		if base, ok := strings.CutSuffix(name, ".so"); ok {
			if _, err := os.ReadFile(filepath.Join(dir, base+"-meta.json")); err != nil {
				return 0, err
			}
			read++
			continue
		}
		if !e.IsDir() {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, name, "plugin.so")); err != nil {
			continue
		}
		if _, err := os.ReadFile(filepath.Join(dir, name, "meta.json")); err != nil {
			return 0, err
		}
		read++
	}
	return read, nil
}

// explainCandidates checks that opa decides every candidate in dir with the
// filters, opening and preflighting none, and returns the Manager.
func explainCandidates(tb testing.TB, dir string, n int) *opa.Manager {
	tb.Helper()
	m, err := opa.New(opa.WithConfig(benchFilterConfig(dir, tb.TempDir())), opa.WithLogger(benchQuietLog()))
	if err != nil {
		tb.Fatal(err)
	}
	rep, err := m.Explain(nil)
	if err != nil {
		tb.Fatal(err)
	}
	if len(rep.Plugins) != n {
		tb.Fatalf("%d candidates reported, want %d", len(rep.Plugins), n)
	}
	for _, p := range rep.Plugins {
		if p.Loaded || !strings.Contains(p.Reason, "PLUGIN_") {
			tb.Fatalf("candidate %s was not decided by the filters: %+v", p.Name, p)
		}
	}
	if got, err := bareDiscover(dir); err != nil || got != n {
		tb.Fatalf("bare discovery found %d (%v), want %d", got, err, n)
	}
	return m
}

func TestBenchCandidates(t *testing.T) {
	dir := t.TempDir()
	benchCandidates(t, dir, 100)
	explainCandidates(t, dir, 100)
}

// BenchmarkDiscover times what Startup does for candidates that the filters
// decide on (discovery, meta.json, the six filters and the report; through
// Manager.Explain, which opens nothing) against bareDiscover on the same
// tree, one run of each in turn (see runInterleaved).
func BenchmarkDiscover(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			benchCandidates(b, dir, n)
			m := explainCandidates(b, dir, n)
			runInterleaved(b, "run",
				benchSide{"opa", 1, 0, func(int) {
					if _, err := m.Explain(nil); err != nil {
						b.Fatal(err)
					}
				}},
				benchSide{"bare", 1, 0, func(int) {
					if _, err := bareDiscover(dir); err != nil {
						b.Fatal(err)
					}
				}})
		})
	}
}
