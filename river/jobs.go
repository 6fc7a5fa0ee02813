package river

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// JobArgs are typed job args: a JSON-able type whose Kind method names the
// task that runs them (River's river.JobArgs).
type JobArgs = rq.JobArgs

// InsertOpts are River's per-job options (queue, priority, max attempts,
// schedule, uniqueness); nil means the component's defaults.
type InsertOpts = rq.InsertOpts

// UniqueOpts are River's uniqueness options, InsertOpts.UniqueOpts: a
// caller's non-empty UniqueOpts replace the task's TaskUnique whole.
type UniqueOpts = rq.UniqueOpts

// JobRow is a job as River stores it: ID, Kind, State, Attempt, Errors, ...
type JobRow = rivertype.JobRow

// Jobs is the instance of a river component: a job queue on one database.
// A host enqueues with Enqueue or EnqueueArgs; a worker process calls Work.
// Get it with opa.Instance[*river.Jobs]("NAME"). Its methods are safe from
// many goroutines.
type Jobs struct {
	set     settings
	log     *slog.Logger
	m       *opa.Manager
	eng     engine
	ins     client                      // inserts; never started
	workers *rq.Workers                 // every task of the loaded plugins
	kinds   []string                    // their kinds, in plugin order
	tasks   map[string]opa.TaskSettings // their settings, by kind
	queues  map[string]int              // the queues worked: OPTS.queues and the tasks' queues

	periodic []*rq.PeriodicJob // the periodic tasks' jobs, enqueued by the leader
	fleetErr error             // why the table of working processes cannot be read, if it cannot

	// stopping is set when a Work is told to stop: a job its client
	// fetched after that is put back unrun (see taskWorker.Work).
	stopping atomic.Bool

	live   sync.WaitGroup // the started River clients that have not stopped
	mu     sync.Mutex
	run    *running  // the Work in progress, if any
	stopBy time.Time // when a stop began, the time by which it must be over (OPTS.stop_timeout)
	closed bool
}

// Enqueue adds a job of kind with args, which are marshalled to JSON (nil is
// {}; json.RawMessage and []byte are used as they are and must be valid
// JSON). Args with a Validate() error method are checked first: an error
// stores nothing. Any kind is accepted, also one that no plugin of this process
// declares: a worker with that plugin runs it. It returns the stored job.
func (j *Jobs) Enqueue(ctx context.Context, kind string, args any, opts *InsertOpts) (*JobRow, error) {
	a, err := j.rawArgs(kind, args)
	if err != nil {
		return nil, err
	}
	return j.insert(ctx, a, opts)
}

// rawArgs are Enqueue's args, validated and marshalled.
func (j *Jobs) rawArgs(kind string, args any) (taskArgs, error) {
	if kind == "" {
		return taskArgs{}, errors.New("river: Enqueue: empty kind")
	}
	if err := validate(kind, args); err != nil {
		return taskArgs{}, err
	}
	var raw []byte
	switch a := args.(type) {
	case nil:
		raw = []byte("{}")
	case json.RawMessage:
		raw = a
	case []byte:
		raw = a
	default:
		var err error
		if raw, err = json.Marshal(args); err != nil {
			return taskArgs{}, fmt.Errorf("river: Enqueue %s: args do not marshal to JSON: %w", kind, err)
		}
	}
	if !json.Valid(raw) {
		return taskArgs{}, fmt.Errorf("river: Enqueue %s: args are not valid JSON", kind)
	}
	return taskArgs{kind: kind, raw: raw}, nil
}

// EnqueueArgs adds a job whose kind is args.Kind(), with args marshalled to
// JSON: typed enqueueing, for a host that has the args type. Args with a
// Validate() error method are checked first.
func (j *Jobs) EnqueueArgs(ctx context.Context, args JobArgs, opts *InsertOpts) (*JobRow, error) {
	if err := validate(args.Kind(), args); err != nil {
		return nil, err
	}
	return j.insert(ctx, args, opts)
}

// EnqueueTx is Enqueue in the caller's transaction tx: the job is stored
// if and only if tx commits, with the rows the caller writes in it. tx is a
// *sql.Tx on SQLite and a pgx.Tx on Postgres, on the queue's database: best
// the one it shares with a data component (OPTS.database), or else the
// database OPTS.url names (for SQLite, the same file, opened with WAL, a
// busy timeout and _txlock=immediate, as this driver opens it). Another
// transaction type is an error. River sees the job once tx commits; a
// rolled-back tx leaves none.
func (j *Jobs) EnqueueTx(ctx context.Context, tx any, kind string, args any, opts *InsertOpts) (*JobRow, error) {
	a, err := j.rawArgs(kind, args)
	if err != nil {
		return nil, err
	}
	return j.insertIn(ctx, tx, a, opts)
}

// EnqueueArgsTx is EnqueueArgs in the caller's transaction tx (see
// EnqueueTx).
func (j *Jobs) EnqueueArgsTx(ctx context.Context, tx any, args JobArgs, opts *InsertOpts) (*JobRow, error) {
	if err := validate(args.Kind(), args); err != nil {
		return nil, err
	}
	return j.insertIn(ctx, tx, args, opts)
}

func (j *Jobs) insertIn(ctx context.Context, tx any, args JobArgs, opts *InsertOpts) (*JobRow, error) {
	ins, err := j.client()
	if err != nil {
		return nil, err
	}
	if tx == nil {
		return nil, fmt.Errorf("river: EnqueueTx %s: no transaction (a nil %s)", args.Kind(), j.eng.txType())
	}
	if opts, err = j.insertOpts(args, opts); err != nil {
		return nil, err
	}
	res, err := j.eng.insertTx(ctx, ins, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("river: enqueue %s in a transaction: %w", args.Kind(), err)
	}
	return res.Job, nil
}

func (j *Jobs) insert(ctx context.Context, args JobArgs, opts *InsertOpts) (*JobRow, error) {
	ins, err := j.client()
	if err != nil {
		return nil, err
	}
	if opts, err = j.insertOpts(args, opts); err != nil {
		return nil, err
	}
	res, err := ins.Insert(ctx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("river: enqueue %s: %w", args.Kind(), err)
	}
	return res.Job, nil
}

// insertOpts are the options a job is inserted with (see withDefaults). A
// queue that this component does not work (OPTS.queues, and the queues of
// the loaded plugins' tasks) is an error: no worker of this configuration
// would ever work the job.
func (j *Jobs) insertOpts(args JobArgs, opts *InsertOpts) (*InsertOpts, error) {
	o := j.withDefaults(args, opts)
	if _, ok := j.queues[o.Queue]; !ok {
		return nil, fmt.Errorf("river: enqueue %s: queue %q is not worked: this configuration works %s (OPTS.queues and the queues of the loaded plugins' tasks); add it to OPTS.queues (in the workers' settings too)",
			args.Kind(), o.Queue, strings.Join(slices.Sorted(maps.Keys(j.queues)), ", "))
	}
	return o, nil
}

// withDefaults merges, field by field, the options a job is inserted with.
// For each of queue, priority, max attempts and uniqueness, the first set
// of: opts (the caller's), the args' own InsertOpts method (typed args),
// the settings of the kind's task if a loaded plugin declares it
// (opa.TaskSettings), and last the OPTS (queue) or River's defaults.
// Uniqueness is taken whole from the first that sets any of it. opts is
// not changed.
func (j *Jobs) withDefaults(args JobArgs, opts *InsertOpts) *InsertOpts {
	var o, own InsertOpts
	if opts != nil {
		o = *opts
	}
	if a, ok := args.(rq.JobArgsWithInsertOpts); ok {
		own = a.InsertOpts()
	}
	task := j.tasks[args.Kind()]
	o.Queue = cmp.Or(o.Queue, own.Queue, task.Queue, j.set.queue)
	o.Priority = cmp.Or(o.Priority, own.Priority, task.Priority)
	o.MaxAttempts = cmp.Or(o.MaxAttempts, own.MaxAttempts, task.MaxAttempts)
	if uniqueUnset(o.UniqueOpts) && uniqueUnset(own.UniqueOpts) && task.Unique != nil {
		o.UniqueOpts = rq.UniqueOpts{ByArgs: task.Unique.ByArgs, ByPeriod: task.Unique.Period}
	}
	return &o
}

// uniqueUnset is River's test for UniqueOpts that ask for no uniqueness.
func uniqueUnset(u rq.UniqueOpts) bool {
	return !u.ByArgs && u.ByPeriod == 0 && !u.ByQueue && u.ByState == nil && !u.ExcludeKind
}

// Job returns the stored job with this ID; an unknown ID is an error
// wrapping opa.ErrNotFound.
func (j *Jobs) Job(ctx context.Context, id int64) (*JobRow, error) {
	return j.act(ctx, id, "get", client.JobGet)
}

// Kinds returns the task kinds this process can run: those of its loaded
// plugins, in plugin order.
func (j *Jobs) Kinds() []string { return slices.Clone(j.kinds) }

// SharedDatabase returns the name of the component whose database the
// queue shares (OPTS.database), or "" when it has one of its own
// (OPTS.url). Only a queue that shares a component's database can join a
// transaction begun on that component's database (EnqueueTx).
func (j *Jobs) SharedDatabase() string { return j.set.database }

// client returns the inserting client of a connected, open Jobs.
func (j *Jobs) client() (client, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.closed:
		return nil, fmt.Errorf("%w: river: the component is closed", opa.ErrState)
	case j.ins == nil:
		return nil, fmt.Errorf("%w: river: the component is not connected", opa.ErrState)
	}
	return j.ins, nil
}
