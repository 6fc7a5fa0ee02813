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
// jobs until its context ends and then stops gracefully:
//
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
//	defer stop()
//	err := jobs.Work(ctx)
//
// Delivery is at-least-once: a job whose worker dies mid-run is rescued
// after OPTS.rescue_after and runs again, so tasks must be idempotent (an
// upsert, a unique key). Args that cannot decode into the task's type, or
// fail its Validate (opa.ErrTaskArgs), cancel the job at once, as does a
// task returning opa.CancelTask; opa.SnoozeTask runs it again later without
// spending an attempt. EnqueueTx inserts a job in the caller's
// transaction. List, Cancel, Retry and Counts are for operators; the
// component is an opa.StatusReporter, so the host's report shows the
// counts and River's elected leader; RiverClient gives River's own client
// to tools such as River UI.
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
// interval instead), as does Schedule (a cron library's Next), at each time
// it returns. Connect refuses what River cannot do (a priority
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
//	poll_only      no LISTEN, poll only (PgBouncer in transaction mode): false
//	stop_timeout   how long a stopping worker lets running jobs finish: 10s
//	leader         take part in leader election: auto, yes or no: auto
//	leader_alarm   a worker without a leader this long logs an error: 1m
//	migrate        run River's migrations at Connect (auto) or only check (no): auto
//	periodic       task kinds the leader enqueues every interval: {kind: 1h}
//	               (wins over a task's opa.TaskEvery)
//
// # Leader election
//
// One River client is elected leader; it moves retries and scheduled jobs to
// the queue, enqueues periodic jobs, rescues stuck jobs and cleans up old
// ones. A leader discards a stuck job of a kind it has no task for, so a
// worker that lacks some tasks must not lead (River's
// LeaderElectionDisabled, with FetchOnlyKnownKinds, which every worker here
// sets). With leader: auto a worker stays out of the election when the
// queues it works hold unfinished jobs that another worker has attempted,
// of a kind it has no task for; a kind no worker has (a typo) keeps nobody
// out. leader: no keeps it out, leader: yes puts it in. At least one worker
// that leads must run; a worker that sees none for OPTS.leader_alarm logs an
// error.
package river
