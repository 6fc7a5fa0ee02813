package river

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
)

// DriverName is the driver's name in OPTIONAL_COMPONENTS: DRIVER: river.
const DriverName = "river"

// Driver builds River job queues for OPTIONAL_COMPONENTS (see the package
// doc for OPTS). It lists its OPTS keys, so that opa refuses an unknown one
// before New, naming the setting and the key it likely meant.
var Driver = opa.Driver{Name: DriverName, New: New, Opts: slices.Sorted(maps.Keys(optionKeys))}

// Plugin provides Driver and nothing else. Compile it into a host with
// opa.Register("river", river.Plugin), opa.WithPlugin, or a blank import of
// github.com/opa-stack/opa-go/river/register.
var Plugin = opa.Plugin{Drivers: []opa.Driver{Driver}}

// New builds an unconnected component from its OPTS; Connect opens the
// database. Bad OPTS are an error naming the key.
func New(opts opa.Options) (opa.Component, error) {
	set, err := parseOptions(opts)
	if err != nil {
		return nil, err
	}
	return &component{jobs: &Jobs{set: set, log: slog.Default()}}, nil
}

// periodicJobs are River periodic jobs for the planned periodic tasks (see
// planTasks), each kind with args {}, inserted with the kind's task
// settings as any Enqueue (its queue, priority, max attempts; see
// insertOpts). A task with an interval (Every) runs on the clock's
// multiples of it (see aligned), not at a leader's start, unique by
// period: the period is the bucket of the clock the run starts, so two
// leaders at a handover, or a reload, store one job per bucket, and runs
// are never closer than the interval (a run at a new leader's start, in a
// bucket the old leader missed, could be). A task
// with a Schedule runs at its times only, with no uniqueness: two leaders
// at a handover could each enqueue the same scheduled run.
func (j *Jobs) periodicJobs(plan []periodicTask) []*rq.PeriodicJob {
	var out []*rq.PeriodicJob
	for _, p := range plan {
		args := taskArgs{kind: p.kind, raw: []byte("{}")}
		if p.schedule != nil {
			// Not run on a new leader's start: a schedule names its times
			// (a restart at 10:00 must not send the 09:00 report again).
			out = append(out, rq.NewPeriodicJob(&schedule{kind: p.kind, next: p.schedule, log: j.log}, func() (rq.JobArgs, *rq.InsertOpts) {
				return args, j.withDefaults(args, nil)
			}, &rq.PeriodicJobOpts{ID: periodicID(p.kind)}))
			continue
		}
		out = append(out, rq.NewPeriodicJob(aligned(p.every), func() (rq.JobArgs, *rq.InsertOpts) {
			return args, j.withDefaults(args, &rq.InsertOpts{UniqueOpts: rq.UniqueOpts{ByPeriod: p.every}})
		}, &rq.PeriodicJobOpts{ID: periodicID(p.kind)}))
	}
	return out
}

// aligned is River's PeriodicSchedule for an interval on the clock: the
// next run after t is the next multiple of every (counted from the zero
// time, as River's unique periods are), whoever leads and whenever it
// started: Next(t) = t.Truncate(every) + every.
type aligned time.Duration

// Next is the first multiple of the interval after t.
func (a aligned) Next(t time.Time) time.Time {
	d := time.Duration(a)
	return t.Truncate(d).Add(d)
}

// component is the opa side of a Jobs: BindManager, Connect and Close.
type component struct {
	jobs *Jobs
}

// The capabilities opa looks for.
var (
	_ opa.Component      = (*component)(nil)
	_ opa.ManagerBinder  = (*component)(nil)
	_ opa.Closer         = (*component)(nil)
	_ opa.StatusReporter = (*component)(nil)
)

// BindManager keeps the Manager, whose loaded plugins' tasks become workers.
func (c *component) BindManager(m *opa.Manager) { c.jobs.m, c.jobs.log = m, m.Logger() }

// Connect checks the loaded plugins' task settings (see planTasks; a
// setting River cannot honour is an error naming the task and its plugin),
// opens the database (OPTS.url), or takes the database of the component
// OPTS.database names, runs River's migrations (OPTS.migrate: auto; with
// no it checks they have been run) and registers every task of the loaded
// plugins as a River worker (a task kind River refuses is an error naming
// it). It logs the queues this component works and accepts. Postgres that
// cannot be reached, or a shared database whose component is unavailable,
// is an error wrapping opa.ErrUnavailable; anything else that fails is a
// plain error.
func (c *component) Connect(ctx context.Context) error {
	j := c.jobs
	var tasks []opa.Task
	if j.m != nil {
		tasks = j.m.Tasks()
	}
	workers, kinds, err := buildWorkers(tasks, j.taskPlugin, &j.stopping, redactWith(j.m))
	if err != nil {
		return err
	}
	plan, err := planTasks(j.set, tasks, j.taskPlugin)
	if err != nil {
		return err
	}
	j.tasks, j.queues, j.periodic = plan.settings, plan.queues, j.periodicJobs(plan.periodic)
	var eng engine
	if j.set.database != "" {
		eng, err = sharedEngine(ctx, j.m, j.set.database)
	} else {
		eng, err = openEngine(ctx, j.set.url)
	}
	if err != nil {
		return err
	}
	migrate := eng.migrate
	if j.set.migrate == "no" {
		migrate = eng.checkMigrated
	}
	if err := migrate(ctx, j.log); err != nil {
		eng.close()
		return err
	}
	// The host's client only inserts. It knows the workers (so River checks
	// their kinds now) but accepts kinds it has no task for: another
	// process's plugins may run them.
	cfg := j.baseConfig()
	cfg.Workers, cfg.SkipUnknownJobCheck = workers, true
	ins, err := eng.newClient(cfg)
	if err != nil {
		eng.close()
		return fmt.Errorf("river: %w", err)
	}
	j.eng, j.ins, j.workers, j.kinds = eng, ins, workers, kinds
	// The table of working processes, for Orphans (after the migrations:
	// on SQLite the migrating transaction holds the one connection).
	if j.fleetErr = eng.ensureFleet(ctx); j.fleetErr != nil {
		j.log.Warn("river: the table of working processes cannot be created or read: orphan jobs (of kinds no running worker has) are not reported", "table", fleetTable, "error", j.fleetErr)
	}
	j.log.Info("river: connected", "queues", j.queues, "kinds", kinds, "periodic", len(plan.periodic))
	return nil
}

// taskPlugin names the plugin that declares kind, for errors.
func (j *Jobs) taskPlugin(kind string) string {
	if j.m == nil {
		return "?"
	}
	return j.m.TaskPlugin(kind)
}

// Instance is the *Jobs that hosts and workers use.
func (c *component) Instance() any { return c.jobs }

// Close stops a running Work within ctx's deadline (letting running jobs
// finish, then cancelling and releasing those that do not) and closes the
// database, unless it is shared (OPTS.database): its own component closes
// it, after this one.
func (c *component) Close(ctx context.Context) error { return c.jobs.close(ctx) }

// baseConfig is the River config both the host's and a worker's client use.
func (j *Jobs) baseConfig() *rq.Config {
	return &rq.Config{
		Logger:            j.log,
		MaxAttempts:       j.set.maxAttempts,
		JobTimeout:        j.set.jobTimeout,
		FetchPollInterval: j.set.pollInterval,
		FetchCooldown:     j.set.fetchCooldown,

		RescueStuckJobsAfter: j.set.rescueAfter,
		PollOnly:             j.set.pollOnly,
	}
}

// schedule is a task's Settings.Schedule as River's PeriodicSchedule.
type schedule struct {
	kind string
	next func(after time.Time) time.Time
	log  *slog.Logger
}

// Next is the first run after current. A time that is not after current
// would have the leader enqueue the task in a loop: it is logged as an
// error, and the task is not enqueued again until the leader changes
// (River takes the zero time as "never").
func (s *schedule) Next(current time.Time) time.Time {
	t := s.next(current)
	if !t.IsZero() && !t.After(current) {
		s.log.Error("river: a periodic task's Schedule returned a time not after the one it was given; the task is not enqueued on it again", "kind", s.kind, "after", current, "got", t)
		return time.Time{}
	}
	return t
}
