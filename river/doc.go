// Package river is an opa driver for River (github.com/riverqueue/river), a
// job queue on a database: a plain SQLite file (pure Go, no server, no cgo)
// or Postgres, where the same workers run across machines. Plugins declare
// tasks (opa.Task, opa.NewTask) without importing River; this driver turns
// every task of the loaded plugins into a River worker.
//
// # Setup
//
// Compile the driver into the host and the workers, with
// opa.Register("river", river.Plugin), opa.WithPlugin("river", river.Plugin)
// or a blank import of github.com/opa-stack/opa-go/river/register, and name
// it in OPTIONAL_COMPONENTS:
//
//	OPTIONAL_COMPONENTS:
//	  jobs:
//	    DRIVER: river
//	    OPTS: {url: /data/jobs.db}   # or postgres://user:password@db:5432/app
//
// Connect opens the database, runs River's migrations (OPTS.migrate: auto;
// with no, it only checks they were run; runs are serialised across
// processes) and registers the tasks. A SQLite file that cannot be opened
// and failed migrations are errors; a Postgres server that cannot be
// reached is an error wrapping opa.ErrUnavailable, so LOAD=auto goes on
// without it.
//
// # Enqueue and work
//
// The host enqueues by kind, with JSON-able args, or with typed args whose
// type has a Kind method:
//
//	jobs, err := opa.Instance[*river.Jobs]("jobs")
//	job, err := jobs.Enqueue(ctx, "notes.reindex", map[string]any{"note": 7}, nil)
//
// A worker process starts with opa.StartupSimple and calls Work, which runs
// jobs until its context ends and then stops within OPTS.stop_timeout:
//
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
//	defer stop()
//	err := jobs.Work(ctx)
//
// Stopping, it fetches nothing more (a job a fetch under way brings is put
// back unrun), lets running jobs finish for three quarters of
// OPTS.stop_timeout (River's SoftStopTimeout), then cancels their
// contexts: a task that returns its context's error is put back in the
// queue before the process exits. Work returns by OPTS.stop_timeout; set it
// a second or two under the orchestrator's grace period (8s, the default,
// for Docker's 10s; 25s for Kubernetes' 30s). WorkWith is Work with
// River's Middleware, Hooks, ErrorHandler and JobStuckHandler for the
// working client (WorkOptions); Subscribe gives its events and Working the
// client, both errors wrapping opa.ErrState when no Work runs.
//
// Delivery is at-least-once: a job whose worker dies mid-run is rescued
// after OPTS.rescue_after and runs again, so tasks must be idempotent (an
// upsert, a unique key). Args that cannot decode into the task's type, or
// fail its Validate (opa.ErrTaskArgs), cancel the job at once, as does a
// task returning opa.CancelTask; opa.SnoozeTask runs it again later without
// spending an attempt. EnqueueTx inserts a job in the caller's
// transaction. Every error River records starts with the task's plugin
// and kind; a discard is logged at ERROR. List, Cancel, Retry and Counts
// (unfinished jobs only) are for operators, and Orphans, CancelOrphans and
// DeleteOrphans for jobs of kinds that no running worker has a task for
// (see Leader election); the component is an opa.StatusReporter, so the
// host's report shows the counts, the orphans and River's elected leader;
// RiverClient gives River's own (inserting) client to tools such as River
// UI.
//
// # Sharing a database
//
// With OPTS.database the queue uses another component's database instead
// of opening one (OPTS.url), so that a plugin stores its rows and queues
// their jobs in one transaction (EnqueueTx):
//
//	OPTIONAL_COMPONENTS:
//	  db:   {DRIVER: sqlite, OPTS: {path: /data/app.db}}   # its instance: a *sql.DB
//	  jobs: {DRIVER: river, OPTS: {database: db}}
//
// That component's instance must be a *sql.DB on SQLite (or a DBer) or a
// *pgxpool.Pool, and its name must sort before the queue's: components
// connect in sorted name order and close in reverse, so it connects first
// and closes after the queue. The queue never closes it. A SQLite database
// must be in WAL mode with a busy timeout (Connect checks both) and begin
// its transactions IMMEDIATE (_txlock=immediate with modernc.org/sqlite;
// this cannot be checked). An unavailable component makes the queue
// unavailable too.
//
// # Per-task settings
//
// A plugin declares how its task's jobs run with the task, engine-neutral:
//
//	opa.NewTask("notes.count_words", count).With(opa.TaskQueue("slow"), opa.TaskMaxAttempts(5),
//		opa.TaskTimeout(30*time.Second), opa.TaskUniqueByArgs(time.Hour), opa.TaskEvery(24*time.Hour))
//
// Enqueue, EnqueueArgs, EnqueueTx and EnqueueArgsTx of a kind whose task is
// loaded in the process take its queue, priority, max attempts and
// uniqueness as defaults; field by field the caller's InsertOpts win, then
// the args' own InsertOpts method, then the task's settings, then
// OPTS.queue and River's defaults (uniqueness is taken whole). A
// duplicate returns the job already stored. A task's queue is worked by
// every worker that has the task, at OPTS.workers concurrency unless
// OPTS.queues lists it. Its timeout is its River worker's Timeout. Every
// makes it a periodic job (OPTS.periodic, for the same kind, sets the
// interval instead), run on the clock's multiples of the interval and
// unique in those buckets, so once per interval across leader handovers
// and reloads; Schedule (a cron library's Next) runs it at each time it
// returns. Connect refuses what River cannot do (a priority
// outside 1 to 4, a queue name River refuses, a unique period or Every
// under 1s, a timeout not shorter than OPTS.rescue_after), naming the task
// and its plugin.
//
// # OPTS
//
//	url            SQLite file path (or sqlite:PATH), or postgres:// URL; this or database
//	database       the component whose database to share (a *sql.DB on SQLite, a *pgxpool.Pool); this or url
//	queue          River queue Enqueue uses when a job names none: default
//	queues         queues Work serves, with their concurrency: {queue: workers};
//	               the tasks' own queues are served too
//	workers        jobs one worker process runs at once, per queue: 10
//	max_attempts   attempts before a failing job is discarded: 25
//	job_timeout    a job's context is cancelled after: 1m
//	rescue_after   a job running this long is rescued and run again: 1h
//	poll_interval  how often a worker looks for jobs besides notifications: 1s
//	fetch_cooldown least time between two fetches of a queue (River's FetchCooldown): 100ms;
//	               a process works at most workers ÷ fetch_cooldown jobs/s per queue
//	poll_only      no LISTEN, poll only (PgBouncer in transaction mode): false
//	stop_timeout   the bound on a stop, from its start to Work's return: 8s
//	leader         take part in leader election: auto (unless partial), yes or no: auto
//	partial        this worker lacks some of the fleet's task plugins: false
//	leader_alarm   a worker without a leader this long logs an error: 1m
//	orphan_alarm   the leader logs jobs waiting this long for a kind no worker has: 5m
//	migrate        run River's migrations at Connect (auto) or only check (no): auto
//	periodic       task kinds the leader enqueues every interval: {kind: 1h}
//	               (wins over a task's opa.TaskEvery)
//
// # Leader election
//
// One River client is elected leader; it moves retries and scheduled jobs to
// the queue, enqueues periodic jobs, rescues stuck jobs and cleans up old
// ones. A leader discards a stuck job of a kind it has no task for, so a
// worker that lacks some of the fleet's tasks must not lead (River's
// LeaderElectionDisabled, with FetchOnlyKnownKinds, which every worker here
// sets). That is declared, not guessed: such a worker says OPTS.partial:
// true, and with leader: auto every worker that is not partial takes
// part, so the fleet has a leader while one runs. leader: no keeps a
// worker out, leader: yes puts it in. A worker that sees no leader for
// OPTS.leader_alarm logs an error.
//
// Each working process records its kinds in the driver's table
// opa_river_worker. Jobs waiting for a kind no running worker has (a
// plugin removed from the fleet, a typo) are orphans: Counts and the
// report list them, the leader logs them at ERROR after OPTS.orphan_alarm,
// and an operator cancels or deletes them (CancelOrphans, DeleteOrphans).
package river
