package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opa-stack/opa-go/internal/lock"
)

// startupEnv is the environment of the Startup host: its settings in OPA_
// variables, as a deployed host has them.
func startupEnv(c config) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPA_") && !strings.HasPrefix(kv, "ENV=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"OPA_PLUGIN_PATHS="+c.pluginDir(),
		"OPA_PLUGIN_DEFAULT_PATH="+c.emptyDir(),
		"OPA_SETTINGS_DIR="+c.emptyDir(),
	)
}

// checkStartup runs each side once and checks that the host loaded every
// plugin, hook and route.
func checkStartup(c config) error {
	cmd := exec.Command(c.starthost(), "-check", fmt.Sprintf("-want=%d", c.startupPlugins))
	cmd.Env = startupEnv(c)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the Startup host failed its check: %w\n%s%s", err, stdout.String(), stderr.String())
	}
	progress("Startup host: %s", strings.TrimSpace(stdout.String()))
	for _, bare := range []string{c.startbare(), c.startlinked()} {
		if _, err := output(c.benchDir, nil, bare, c.pluginDir()); err != nil {
			return fmt.Errorf("the bare loader failed: %w", err)
		}
	}
	return nil
}

// startupRounds times fresh processes of the host, of the bare loader and
// of the bare loader linked with Startup's code, in turns: each round runs
// each once, in an order that changes from round to round (every side
// first, second and third as often). A warm-up of each comes first, so that
// all find the files in the page cache.
func startupRounds(c config, res *results) error {
	pins, err := pinsEnv(c.pluginDir())
	if err != nil {
		return err
	}
	locked, err := lockedDir(c)
	if err != nil {
		return err
	}
	// tmpfs is where the tmpfs side puts its copies: a private copy on a
	// tmpfs holds its whole file in memory while the process maps it, so
	// that side's memory is its RSS plus the size of the plugins.
	tmpfs := "/dev/shm"
	soBytes, err := pluginBytes(c.pluginDir())
	if err != nil {
		return err
	}
	sides := []struct {
		name  string
		cmd   func() *exec.Cmd
		extra int64 // bytes held outside the process's RSS, for its memory
	}{
		{"Startup/opa", func() *exec.Cmd {
			cmd := exec.Command(c.starthost())
			cmd.Env = startupEnv(c)
			return cmd
		}, 0},
		{"Startup/opa-inplace", func() *exec.Cmd {
			cmd := exec.Command(c.starthost())
			cmd.Env = append(startupEnv(c), "OPA_PLUGIN_OPEN_IN_PLACE=true")
			return cmd
		}, 0},
		{"Startup/opa-tmpfs", func() *exec.Cmd {
			cmd := exec.Command(c.starthost())
			cmd.Env = append(startupEnv(c), "OPA_PLUGIN_COPY_DIR="+tmpfs)
			return cmd
		}, soBytes},
		{"Startup/opa-pinned", func() *exec.Cmd {
			cmd := exec.Command(c.starthost())
			cmd.Env = append(startupEnv(c), pins)
			return cmd
		}, 0},
		{"Startup/opa-locked", func() *exec.Cmd {
			cmd := exec.Command(c.starthost())
			cmd.Env = append(startupEnv(c), "OPA_PLUGIN_PATHS="+locked) // the later value wins
			return cmd
		}, 0},
		{"Startup/bare", func() *exec.Cmd {
			cmd := exec.Command(c.startbare(), c.pluginDir())
			cmd.Env = startupEnv(c)
			return cmd
		}, 0},
		{"Startup/bare-linked", func() *exec.Cmd {
			cmd := exec.Command(c.startlinked(), c.pluginDir())
			cmd.Env = startupEnv(c)
			return cmd
		}, 0},
	}
	memFile := filepath.Join(c.results, "rss.txt")
	var raw strings.Builder
	for round := -1; round < c.startupRounds; round++ {
		order := make([]int, len(sides))
		for k := range order {
			order[k] = (k + max(round, 0)) % len(sides)
		}
		if round >= 0 && (round/len(sides))%2 == 1 {
			slices.Reverse(order)
		}
		for _, k := range order {
			side := sides[k]
			cmd := side.cmd()
			cmd.Env = append(cmd.Env, "BENCH_MEMFILE="+memFile)
			wall, cpu, err := timeProcess(c, cmd)
			if err != nil {
				return fmt.Errorf("%s: %w", side.name, err)
			}
			rssKB, err := readKB(memFile)
			if err != nil {
				return fmt.Errorf("%s: its memory: %w", side.name, err)
			}
			if round < 0 {
				continue // warm-up
			}
			res.add(side.name, round, "wall-ms", float64(wall)/1e6)
			res.add(side.name, round, "cpu-ms", float64(cpu)/1e6)
			res.add(side.name, round, "mem-mb", (float64(rssKB)*1024+float64(side.extra))/(1<<20))
			fmt.Fprintf(&raw, "Benchmark%s 1 %d ns/op %d cpu-ns/op\n", side.name, wall.Nanoseconds(), cpu.Nanoseconds())
		}
	}
	return os.WriteFile(c.results+"/startup.txt", []byte(raw.String()), 0o644)
}

// timeProcess runs cmd to its end and returns its wall time and the CPU
// time (user and system) it used.
func timeProcess(c config, cmd *exec.Cmd) (wall, cpu time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.startupTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // the host logs there; kept for errors
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	err = cmd.Wait()
	wall = time.Since(start)
	stop()
	if err != nil {
		return 0, 0, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	st := cmd.ProcessState
	return wall, st.UserTime() + st.SystemTime(), nil
}

// pinsEnv is OPA_PLUGIN_SHA256 pinning every .so in dir to its SHA-256, so
// that the pinned Startup reads and hashes every file too.
func pinsEnv(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	pins := map[string]string{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".so")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		pins[name] = hex.EncodeToString(sum[:])
	}
	j, err := json.Marshal(pins)
	if err != nil {
		return "", err
	}
	return "OPA_PLUGIN_SHA256=" + string(j), nil
}

// pluginBytes is the size of the .so files in dir, added up.
func pluginBytes(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".so") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// readKB reads the number of kB a program wrote with memstat.Record, and
// removes the file.
func readKB(file string) (int64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	defer os.Remove(file)
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// lockedDir makes, beside the plugin directory, a folder holding the same
// .so files (hard links, or copies where links fail) and an opa.lock of
// them, so that the locked Startup reads and hashes every file as the
// pinned one does, from a folder of its own: a lock in the plugin
// directory would be enforced on every other side too. It returns the
// folder.
func lockedDir(c config) (string, error) {
	dir := filepath.Join(c.startupDir(), "locked")
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(c.pluginDir())
	if err != nil {
		return "", err
	}
	f := &lock.File{LockVersion: lock.Version}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".so")
		if !ok {
			continue
		}
		src, dst := filepath.Join(c.pluginDir(), e.Name()), filepath.Join(dir, e.Name())
		b, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		if err := os.Link(src, dst); err != nil {
			if err := os.WriteFile(dst, b, 0o755); err != nil {
				return "", err
			}
		}
		sum := sha256.Sum256(b)
		f.Put(lock.Entry{Name: name, File: e.Name(), SHA256: hex.EncodeToString(sum[:])})
	}
	return dir, os.WriteFile(filepath.Join(dir, lock.FileName), f.Marshal(), 0o644)
}
