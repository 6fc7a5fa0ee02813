// Package testprog is the program the tests run as child processes: a host
// that enqueues, or a worker that works, on a shared database. The test
// binary runs it (Main) instead of its tests when OPA_RIVER_TESTPROG is set;
// it is also a short example of a worker.
//
// Environment:
//
//	OPA_RIVER_TESTPROG  "worker"
//	TP_URL              OPTS.url
//	TP_PLUGINS          comma-separated task plugins to compile in: a, b, flaky, fail, slow, late, cancel, snooze, stubborn (ignores its context),
//	                    and queued, unique, timeout, every, scheduled, whose tasks declare Settings
//	TP_BLACKLIST        a plugin to compile in but leave out with PLUGIN_BLACKLIST_RE
//	TP_OUT              file each task run appends "KIND N PID" to
//	TP_LEADER           OPTS.leader
//	TP_STOP_TIMEOUT     OPTS.stop_timeout
//	TP_SLOW_FAST        "1": the slow task returns at once
//	TP_OPTS             more OPTS, as a JSON object: {"queues": ["default", "mail"]}
package testprog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
)

// Args are the test tasks' args.
type Args struct {
	N  int `json:"n"`            // a number the test checks each run by
	MS int `json:"ms,omitempty"` // how long the slow task runs
	// Until is a Unix time in milliseconds: the late task fails before it.
	Until int64 `json:"until,omitempty"`
	// Token is a secret the leak task repeats in its error, as a task that
	// calls an API with it may.
	Token string `json:"api_token,omitempty"`
}

// Kinds of the test plugins' tasks, by plugin name.
var Kinds = map[string]string{"a": "test.a", "b": "test.b", "flaky": "test.flaky", "fail": "test.fail", "slow": "test.slow", "late": "test.late",
	"cancel": "test.cancel", "snooze": "test.snooze", "queued": "test.queued", "unique": "test.unique", "timeout": "test.timeout",
	"every": "test.every", "scheduled": "test.scheduled", "leak": "test.leak", "stubborn": "test.stubborn"}

// Settings of the test plugins' tasks that declare some, by plugin name.
// The timeout task waits for its context to end and returns its error.
var Settings = map[string][]opa.TaskOption{
	"queued":  {opa.TaskQueue("slow"), opa.TaskPriority(3), opa.TaskMaxAttempts(3)},
	"unique":  {opa.TaskUniqueByArgs(time.Hour)},
	"timeout": {opa.TaskTimeout(300 * time.Millisecond), opa.TaskMaxAttempts(1)},
	"every":   {opa.TaskEvery(2 * time.Second), opa.TaskQueue("ticks")},
	// At each whole two seconds of the clock, as a cron schedule would.
	"scheduled": {opa.TaskSchedule(func(t time.Time) time.Time { return t.Truncate(2 * time.Second).Add(2 * time.Second) }), opa.TaskQueue("ticks")},
}

// Declare is plugin's task with its settings and a Run that does nothing:
// what a host that enqueues, but does not work, loads.
func Declare(plugin string) opa.Task {
	return opa.NewTask(Kinds[plugin], func(context.Context, Args) error { return nil }).With(Settings[plugin]...)
}

// Main runs the worker and returns its exit code.
func Main() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	if err := work(); err != nil {
		log.Error("testprog", "error", err)
		return 1
	}
	return 0
}

func work() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := opa.Options{"url": os.Getenv("TP_URL"), "poll_interval": "200ms"}
	for env, key := range map[string]string{"TP_LEADER": "leader", "TP_STOP_TIMEOUT": "stop_timeout"} {
		if v := os.Getenv(env); v != "" {
			opts[key] = v
		}
	}
	if more := os.Getenv("TP_OPTS"); more != "" {
		if err := json.Unmarshal([]byte(more), &opts); err != nil {
			return fmt.Errorf("TP_OPTS: %w", err)
		}
	}
	cfg := opa.Config{
		DefaultPluginPath:  "/nonexistent/opa-river-test",
		OptionalComponents: map[string]opa.ComponentConfig{"jobs": {Load: "yes", Driver: river.DriverName, Opts: opts}},
	}
	options := []opa.Option{opa.WithPlugin("river", river.Plugin)}
	names := strings.Split(os.Getenv("TP_PLUGINS"), ",")
	if b := os.Getenv("TP_BLACKLIST"); b != "" {
		names = append(names, b)
		cfg.BlacklistRE = ".*/" + b + "$"
	}
	rec := &recorder{path: os.Getenv("TP_OUT"), seen: map[int]bool{}}
	for _, name := range names {
		if name != "" {
			options = append(options, opa.WithPlugin(name, opa.Plugin{Tasks: []opa.Task{rec.task(name)}}))
		}
	}
	if err := opa.StartupSimple(append(options, opa.WithConfig(cfg))...); err != nil {
		return err
	}
	defer opa.Shutdown(context.Background())
	jobs, err := opa.Instance[*river.Jobs]("jobs")
	if err != nil {
		return err
	}
	return jobs.Work(ctx)
}

// recorder makes the test tasks and records their runs.
type recorder struct {
	path string
	mu   sync.Mutex
	seen map[int]bool // flaky, snooze: the numbers that failed or snoozed once
}

// first says whether this is the first run of number n, and remembers it.
func (r *recorder) first(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := !r.seen[n]
	r.seen[n] = true
	return first
}

func (r *recorder) task(plugin string) opa.Task {
	kind := Kinds[plugin]
	return opa.NewTask(kind, func(ctx context.Context, a Args) error {
		switch plugin {
		case "flaky":
			if r.first(a.N) {
				r.record(kind, a.N, "failed")
				return fmt.Errorf("flaky %d fails its first run", a.N)
			}
		case "late":
			if now := time.Now().UnixMilli(); now < a.Until {
				r.record(kind, a.N, "failed")
				return fmt.Errorf("late %d fails until %d, %dms to go", a.N, a.Until, a.Until-now)
			}
		case "snooze":
			if r.first(a.N) {
				r.record(kind, a.N, "snoozed")
				return opa.SnoozeTask(300 * time.Millisecond)
			}
		case "cancel":
			r.record(kind, a.N, "cancelled")
			return opa.CancelTask(fmt.Errorf("cancel %d: the note is gone", a.N))
		case "timeout":
			r.record(kind, a.N, "started")
			<-ctx.Done()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				r.record(kind, a.N, "deadline")
			}
			return fmt.Errorf("timeout %d: %w", a.N, ctx.Err())
		case "leak":
			r.record(kind, a.N, "failed")
			return fmt.Errorf("leak %d: GET https://api.example/v1?access_token=%s: 401 Unauthorized (token %s)", a.N, a.Token, a.Token)
		case "stubborn":
			r.record(kind, a.N, "started")
			time.Sleep(time.Duration(a.MS) * time.Millisecond)
		case "fail":
			r.record(kind, a.N, "failed")
			return errors.New("this task always fails")
		case "slow":
			r.record(kind, a.N, "started")
			if os.Getenv("TP_SLOW_FAST") != "1" {
				select {
				case <-time.After(time.Duration(a.MS) * time.Millisecond):
				case <-ctx.Done():
					r.record(kind, a.N, "cancelled")
					return ctx.Err()
				}
			}
		default:
			time.Sleep(2 * time.Millisecond)
		}
		r.record(kind, a.N, "ok")
		return nil
	}).With(Settings[plugin]...)
}

// record appends "KIND N PID WHAT" to the output file.
func (r *recorder) record(kind string, n int, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(r.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		slog.Error("testprog: record", "error", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %d %d %s\n", kind, n, os.Getpid(), what)
}
