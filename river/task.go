package river

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
)

// taskArgs are a job's args as River stores them: raw JSON, handed to the
// task's Run as they are. Its kind is only set on the value a worker is
// registered with; River takes a job's kind from its row.
type taskArgs struct {
	kind string
	raw  json.RawMessage
}

func (a taskArgs) Kind() string { return a.kind }

func (a taskArgs) MarshalJSON() ([]byte, error) {
	if len(a.raw) == 0 {
		return []byte("{}"), nil
	}
	return a.raw, nil
}

func (a *taskArgs) UnmarshalJSON(b []byte) error {
	a.raw = append(json.RawMessage(nil), b...)
	return nil
}

// taskWorker runs one opa.Task as a River worker. An error (or a panic) from
// the task is retried as River retries, up to the job's max attempts. Args
// that do not decode or validate (opa.ErrTaskArgs) and opa.CancelTask cancel
// the job at once; opa.SnoozeTask runs it again later without spending an
// attempt (see outcome). Every error River records starts with the task's
// plugin and kind, and is redacted first (see redactWith): River logs it
// and stores it with the job, where River UI shows it.
type taskWorker struct {
	rq.WorkerDefaults[taskArgs]
	task     opa.Task
	plugin   string                                      // the plugin that declares the task
	stopping *atomic.Bool                                // set when the Work is told to stop (Jobs.stopping)
	redact   func(err error, args json.RawMessage) error // nil: the error as it is
}

// Work runs the task, unless the Work was told to stop before the job
// started: a job fetched after that (a fetch under way when the stop came)
// is put back, available at once, with its attempt not counted (a snooze
// of 0, which River counts in metadata.snoozes), for the next worker to run
// from the start instead of this one cancelling it half-done.
func (w *taskWorker) Work(ctx context.Context, job *rq.Job[taskArgs]) (err error) {
	if w.stopping != nil && w.stopping.Load() {
		return rq.JobSnooze(0)
	}
	defer func() {
		if v := recover(); v != nil {
			panic(fmt.Sprintf("plugin %s, task %s: panic: %v", w.plugin, w.task.Kind, v))
		}
	}()
	err = w.task.Run(ctx, job.Args.raw)
	if w.redact != nil {
		err = w.redact(err, job.Args.raw)
	}
	return outcome(w.plugin, w.task.Kind, job.ID, err)
}

// redactWith returns m.RedactTaskError, or, without a Manager, a func that
// returns the error as it is.
func redactWith(m *opa.Manager) func(error, json.RawMessage) error {
	if m == nil {
		return func(err error, _ json.RawMessage) error { return err }
	}
	return m.RedactTaskError
}

// outcome turns a task's error into what River is to do with the job; the
// error it records starts with the plugin and the kind.
func outcome(plugin, kind string, id int64, err error) error {
	if err == nil {
		return nil
	}
	if snooze, ok := errors.AsType[*opa.TaskSnoozeError](err); ok {
		return rq.JobSnooze(max(snooze.After, 0))
	}
	if errors.Is(err, opa.ErrTaskArgs) {
		return rq.JobCancel(fmt.Errorf("plugin %s, task %s: job %d cancelled, not retried: its args are bad: %w", plugin, kind, id, err))
	}
	if _, ok := errors.AsType[*opa.TaskCancelError](err); ok {
		return rq.JobCancel(fmt.Errorf("plugin %s, task %s: job %d cancelled by its task: %w", plugin, kind, id, err))
	}
	return fmt.Errorf("plugin %s, task %s: %w", plugin, kind, err)
}

// validate calls args' Validate method, if it has one: typed args (or any
// args an Enqueue is given) may check themselves before they are stored.
func validate(kind string, args any) error {
	v, ok := args.(interface{ Validate() error })
	if !ok {
		return nil
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("river: enqueue %s: invalid args: %w", kind, err)
	}
	return nil
}

// buildWorkers registers every task as a River worker and returns the kinds.
// opa has already refused two plugins declaring one kind.
// plugin names a kind's plugin; stopping is Jobs.stopping; redact hides the
// secrets of a task's error (see redactWith).
func buildWorkers(tasks []opa.Task, plugin func(kind string) string, stopping *atomic.Bool, redact func(error, json.RawMessage) error) (workers *rq.Workers, kinds []string, err error) {
	defer func() {
		if v := recover(); v != nil { // AddWorkerArgs panics on a duplicate kind
			workers, kinds, err = nil, nil, fmt.Errorf("river: registering tasks: %v", v)
		}
	}()
	workers = rq.NewWorkers()
	for _, t := range tasks {
		if t.Kind == "" || t.Run == nil {
			return nil, nil, fmt.Errorf("river: task %q has no kind or no Run func", t.Kind)
		}
		rq.AddWorkerArgs(workers, taskArgs{kind: t.Kind}, &taskWorker{task: t, plugin: plugin(t.Kind), stopping: stopping, redact: redact})
		kinds = append(kinds, t.Kind)
	}
	return workers, kinds, nil
}

// Timeout is the task's Settings.Timeout: River cancels a run's context
// after it. 0 is the component's OPTS.job_timeout (River's default, 1m).
func (w *taskWorker) Timeout(*rq.Job[taskArgs]) time.Duration { return w.task.Settings.Timeout }

// taskPlan is what the loaded tasks' settings make of a component: the
// settings by kind, the queues worked and the periodic jobs.
type taskPlan struct {
	settings map[string]opa.TaskSettings // by kind
	queues   map[string]int              // OPTS.queues, plus the tasks' queues at OPTS.workers
	periodic []periodicTask              // sorted by kind
}

// periodicTask is a kind the leader enqueues every interval, or at each
// time of its schedule.
type periodicTask struct {
	kind     string
	every    time.Duration
	schedule func(after time.Time) time.Time // when every is 0 (opa refuses both set)
}

// queueName is River's rule for a queue name.
var queueName = regexp.MustCompile(`^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`)

// checkQueueName says why River would refuse name as a queue's, or nil.
func checkQueueName(name string) error {
	if len(name) > 64 || !queueName.MatchString(name) {
		return fmt.Errorf("queue %q is not a River queue name: up to 64 lower-case letters and digits, words separated by _ or -", name)
	}
	return nil
}

// planTasks checks the tasks' settings against what River can do and the
// OPTS, and plans the queues and periodic jobs. A task's queue that
// OPTS.queues does not list is worked too, with OPTS.workers concurrency.
// A periodic task is enqueued every Settings.Every, or at each time of its
// Settings.Schedule, or every OPTS.periodic[kind] where OPTS names it (OPTS
// win); OPTS.periodic kinds without a loaded task are planned as they are. plugin names a kind's
// plugin in errors.
func planTasks(set settings, tasks []opa.Task, plugin func(kind string) string) (taskPlan, error) {
	p := taskPlan{settings: map[string]opa.TaskSettings{}, queues: maps.Clone(set.queues)}
	periodic := map[string]periodicTask{} // by kind; OPTS.periodic first, so it wins
	for kind, every := range set.periodic {
		periodic[kind] = periodicTask{kind: kind, every: every}
	}
	var errs []error
	for _, t := range tasks {
		s := t.Settings
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("river: task %s (plugin %s): %s", t.Kind, plugin(t.Kind), fmt.Sprintf(format, args...)))
		}
		if s.Priority > 4 { // opa refuses negative ones at Startup; 0 is unset
			bad("priority %d is out of River's range: 1 (runs first) to 4 (runs last)", s.Priority)
		}
		if s.Queue != "" {
			if err := checkQueueName(s.Queue); err != nil {
				bad("%v", err)
			}
		}
		if s.Timeout > 0 && s.Timeout >= set.rescueAfter {
			bad("timeout %s is not shorter than OPTS.rescue_after (%s): a job still running would be rescued and run twice; raise OPTS.rescue_after", s.Timeout, set.rescueAfter)
		}
		if s.Unique != nil && s.Unique.Period > 0 && s.Unique.Period < time.Second {
			bad("unique period %s is shorter than River's minimum, 1s", s.Unique.Period)
		}
		if s.Every > 0 && s.Every < time.Second {
			bad("every %s is shorter than 1s, the shortest period River can keep unique", s.Every)
		}
		p.settings[t.Kind] = s
		if _, ok := p.queues[s.Queue]; s.Queue != "" && !ok {
			p.queues[s.Queue] = set.workers
		}
		if _, ok := periodic[t.Kind]; (s.Every > 0 || s.Schedule != nil) && !ok {
			periodic[t.Kind] = periodicTask{kind: t.Kind, every: s.Every, schedule: s.Schedule}
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(periodic)) {
		pt := periodic[kind]
		// River panics (in the worker that leads) on an ID it refuses, and
		// refuses a period under 1s on every run: say so here, at Connect.
		where := "task " + kind + " (plugin " + plugin(kind) + ")"
		if _, set := set.periodic[kind]; set {
			where = "OPTS.periodic " + kind
		}
		if id := periodicID(kind); len(id) >= 128 || !periodicIDRule.MatchString(id) {
			errs = append(errs, fmt.Errorf("river: %s: the kind cannot name a River periodic job (%q): use letters, digits and _ - . : + / [ ] < >, no spaces, under 124 characters", where, id))
			continue
		}
		if _, set := set.periodic[kind]; set && pt.every < time.Second { // a task's Every is checked above
			errs = append(errs, fmt.Errorf("river: %s: every %s is shorter than 1s, the shortest period River runs", where, pt.every))
			continue
		}
		p.periodic = append(p.periodic, pt)
	}
	return p, errors.Join(errs...)
}

// periodicID is the ID of a periodic job of kind in River: one job per
// kind across every worker that leads.
func periodicID(kind string) string { return "opa:" + kind }

// periodicIDRule is River's rule for a periodic job's ID (it panics on one
// that breaks it, or of 128 characters or more).
var periodicIDRule = regexp.MustCompile(`\A[\w][\w\-\[\]<>\/.·:+]+\z`)
