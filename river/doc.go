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
// Connect opens the database, runs River's migrations and registers the
// tasks. A SQLite file that cannot be opened and failed migrations are
// errors; a Postgres server that cannot be reached is an error wrapping
// opa.ErrUnavailable, so LOAD=auto goes on without it.
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
// # OPTS
//
//	url            SQLite file path (or sqlite:PATH), or postgres:// URL; required
//	queue          River queue to enqueue to and work: default
//	workers        jobs one worker process runs at once: 10
//	max_attempts   attempts before a failing job is discarded: 25
//	job_timeout    a job's context is cancelled after: 1m
//	poll_interval  how often a worker looks for jobs besides notifications: 1s
//	stop_timeout   how long a stopping worker lets running jobs finish: 10s
//	leader         take part in leader election: auto, yes or no: auto
//
// # Leader election
//
// One River client is elected leader; it moves retries and scheduled jobs to
// the queue, rescues stuck jobs and cleans up old ones. A leader discards a
// stuck job of a kind it has no task for, so a worker that lacks some
// plugins must not lead (River's LeaderElectionDisabled, with
// FetchOnlyKnownKinds, which every worker here sets). With leader: auto a
// worker stays out of the election when a plugin was found but not loaded
// (the report says so) or when the queue already holds jobs of a kind it
// has no task for; leader: no keeps it out, leader: yes puts it in. At
// least one worker that leads must run.
package river
