package opa

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// TaskSettings are how a queue runs a task's jobs, declared with the task
// (Task.With) so that hosts need not repeat them at every enqueue. The zero
// value of each field means the queue engine's (or its component's OPTS')
// default. They are engine-neutral: a driver maps them to its engine and
// refuses, when it connects, a value its engine cannot honour (River's
// priorities are 1 to 4, for one).
type TaskSettings struct {
	// Queue is the queue the task's jobs go to, e.g. "slow"; "" is the
	// component's default queue. Workers that have the task also work its
	// queue.
	Queue string
	// Priority orders the jobs waiting in one queue; with River, 1 runs
	// first and 4 last. 0 is the engine's default (River's: 1).
	Priority int
	// MaxAttempts is how often a failing job is tried before it is given
	// up; 0 is the component's default.
	MaxAttempts int
	// Timeout cancels a run's context after this long; 0 is the
	// component's default.
	Timeout time.Duration
	// Unique makes an enqueue that duplicates a stored job store nothing
	// (the earlier job is returned); nil means every enqueue stores a job.
	Unique *TaskUnique
	// Every has the queue enqueue the task, with empty args ({}), once per
	// interval for the whole fleet; 0 means only when something enqueues it.
	Every time.Duration
	// Schedule has the queue enqueue the task, with empty args ({}), for
	// the whole fleet at each time it returns: Schedule(t) is the first run
	// after t. A cron library's parsed schedule fits, e.g. robfig/cron's
	// Schedule.Next. Set Every or Schedule, not both; nil means none.
	Schedule func(after time.Time) time.Time

	emptyQueue bool // TaskQueue was last given a blank name, reported at Startup
}

// TaskUnique says which jobs of a task are duplicates of each other.
type TaskUnique struct {
	// ByArgs: only jobs with equal args are duplicates; false: any job of
	// the kind is.
	ByArgs bool
	// Period: only jobs enqueued (or scheduled) within the same period, as
	// the clock is cut into periods of this length, are duplicates; 0: a job
	// is a duplicate as long as the earlier one is stored (unfinished, or
	// completed and not yet cleaned up), unless that one was cancelled or
	// given up (River's default unique states).
	Period time.Duration
}

// A TaskOption sets one of a task's settings (see Task.With).
type TaskOption func(*TaskSettings)

// With returns a copy of t with opts applied to its Settings, in order (a
// later option wins). A value an option refuses (a negative duration, an
// empty queue name) is reported when the plugin is registered at Startup,
// naming the plugin and the task:
//
//	opa.NewTask("notes.count", count).With(opa.TaskQueue("slow"), opa.TaskMaxAttempts(3))
func (t Task) With(opts ...TaskOption) Task {
	if t.Settings.Unique != nil {
		u := *t.Settings.Unique
		t.Settings.Unique = &u
	}
	for _, o := range opts {
		o(&t.Settings)
	}
	return t
}

// TaskQueue puts the task's jobs on queue q (Settings.Queue). An empty q is
// an error at Startup.
func TaskQueue(q string) TaskOption {
	return func(s *TaskSettings) {
		s.Queue, s.emptyQueue = q, strings.TrimSpace(q) == ""
	}
}

// TaskPriority sets the priority of the task's jobs (Settings.Priority).
func TaskPriority(p int) TaskOption { return func(s *TaskSettings) { s.Priority = p } }

// TaskMaxAttempts sets how often a failing job of the task is tried
// (Settings.MaxAttempts).
func TaskMaxAttempts(n int) TaskOption { return func(s *TaskSettings) { s.MaxAttempts = n } }

// TaskTimeout cancels a run's context after d (Settings.Timeout).
func TaskTimeout(d time.Duration) TaskOption { return func(s *TaskSettings) { s.Timeout = d } }

// TaskUniqueByArgs makes a job with the same args as a stored job of the
// task a duplicate, which is not stored, within period (0: as long as the
// earlier job is stored and was not cancelled or given up; see TaskUnique).
func TaskUniqueByArgs(period time.Duration) TaskOption {
	return func(s *TaskSettings) { s.Unique = &TaskUnique{ByArgs: true, Period: period} }
}

// TaskEvery has the queue enqueue the task once every d for the whole fleet
// (Settings.Every).
func TaskEvery(d time.Duration) TaskOption { return func(s *TaskSettings) { s.Every = d } }

// TaskSchedule has the queue enqueue the task at each time next returns
// (Settings.Schedule), for the whole fleet: next(t) is the first run after
// t. With a cron library, e.g. github.com/robfig/cron/v3:
//
//	sched, err := cron.ParseStandard("0 9 * * MON-FRI")
//	task := opa.NewTask("reports.daily", send).With(opa.TaskSchedule(sched.Next))
func TaskSchedule(next func(after time.Time) time.Time) TaskOption {
	return func(s *TaskSettings) { s.Schedule = next }
}

// check says what is wrong with the settings, if anything.
func (s TaskSettings) check() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if s.emptyQueue {
		bad("TaskQueue: the queue name is empty (leave the option out for the default queue)")
	}
	if s.Queue != strings.TrimSpace(s.Queue) {
		bad("queue %q has spaces around it", s.Queue)
	}
	if s.Priority < 0 {
		bad("priority %d is negative (0 is the default)", s.Priority)
	}
	if s.MaxAttempts < 0 {
		bad("max attempts %d is negative (0 is the default)", s.MaxAttempts)
	}
	if s.Timeout < 0 {
		bad("timeout %s is negative (0 is the default)", s.Timeout)
	}
	if s.Every < 0 {
		bad("every %s is negative (0 means not periodic)", s.Every)
	}
	if s.Every > 0 && s.Schedule != nil {
		bad("both Every (%s) and a Schedule are set: set one", s.Every)
	}
	if u := s.Unique; u != nil {
		switch {
		case u.Period < 0:
			bad("unique period %s is negative (0 means no period)", u.Period)
		case !u.ByArgs && u.Period == 0:
			bad("Unique sets neither ByArgs nor a Period, so it would make every job of the kind a duplicate of the first for as long as it is stored (set one, or leave Unique nil)")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}
