// Package memstat lets the Startup benchmark's programs report their
// memory: Record writes the process's resident set size, in kB, to the file
// that the environment variable BENCH_MEMFILE names (nothing when it is
// unset), once the plugins are loaded.
package memstat

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Record writes "VmRSS KB" to $BENCH_MEMFILE, from /proc/self/status.
func Record() error {
	file := os.Getenv("BENCH_MEMFILE")
	if file == "" {
		return nil
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return os.WriteFile(file, []byte(kb+"\n"), 0o644)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("no VmRSS in /proc/self/status")
}
