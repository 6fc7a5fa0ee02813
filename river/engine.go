package river

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// engine is River on one database, whatever its transaction type: SQLite
// through database/sql, Postgres through pgx.
type engine interface {
	// migrate runs River's migrations up, one process at a time.
	migrate(ctx context.Context, log *slog.Logger) error
	// checkMigrated is an error if River's migrations are not all applied.
	checkMigrated(ctx context.Context, log *slog.Logger) error
	// newClient makes a River client on the database.
	newClient(cfg *rq.Config) (client, error)
	// insertTx inserts a job with c in the caller's transaction tx, which
	// must be the engine's transaction type.
	insertTx(ctx context.Context, c client, tx any, args rq.JobArgs, opts *rq.InsertOpts) (*rivertype.JobInsertResult, error)
	// txType names the transaction type insertTx takes.
	txType() string
	// counts are the unfinished jobs by queue and state.
	counts(ctx context.Context) (map[string]map[string]int, error)
	// waitingKinds are the jobs waiting to run (available, pending,
	// scheduled, retryable) by kind.
	waitingKinds(ctx context.Context) (map[string]int, error)
	// ensureFleet creates the table of working processes if it is missing,
	// and is an error if it cannot be read.
	ensureFleet(ctx context.Context) error
	// heartbeat records that the working client id runs kinds, now.
	heartbeat(ctx context.Context, id string, kinds []string) error
	// leave removes the working client id from the table.
	leave(ctx context.Context, id string) error
	// fleetKinds are the kinds that working clients seen since since run.
	fleetKinds(ctx context.Context, since time.Time) (map[string]bool, error)
	// electedLeader is the ID of the leader in office, or "" if none is.
	electedLeader(ctx context.Context) (string, error)
	// close closes the database.
	close()
}

// client is what this package uses of a *river.Client, for any TTx.
type client interface {
	Insert(ctx context.Context, args rq.JobArgs, opts *rq.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *rq.JobListParams) (*rq.JobListResult, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Stopped() <-chan struct{}
	ID() string
	JobDeleteMany(ctx context.Context, params *rq.JobDeleteManyParams) (*rq.JobDeleteManyResult, error)
	SubscribeConfig(config *rq.SubscribeConfig) (<-chan *rq.Event, func())
}

// engineOf is the engine for one River driver.
type engineOf[TTx any] struct {
	driver  riverdriver.Driver[TTx]
	closeDB func()
	// exclusive runs fn while no other process migrates the database: in one
	// SQLite write transaction, or holding a Postgres advisory lock. fn gets
	// the transaction to migrate in, or the zero TTx to migrate as River
	// does (each migration in its own transaction).
	exclusive func(ctx context.Context, fn func(tx TTx, inTx bool) error) error
	// query runs a query with arguments ($1, $2, ...) and calls row for
	// each row.
	query func(ctx context.Context, sql string, row func(scan func(dest ...any) error) error, args ...any) error
	// exec runs a statement with arguments ($1, $2, ...).
	exec func(ctx context.Context, sql string, args ...any) error
}

// countsSQL counts unfinished jobs by queue and state, in SQL both
// databases take. The state filter lets the database use River's fetch
// index (state first) instead of reading every finished job.
const countsSQL = "SELECT queue, state, count(*) FROM river_job WHERE state IN ('available', 'pending', 'scheduled', 'retryable', 'running') GROUP BY queue, state"

// waitingKindsSQL counts the jobs waiting to run by kind.
const waitingKindsSQL = "SELECT kind, count(*) FROM river_job WHERE state IN ('available', 'pending', 'scheduled', 'retryable') GROUP BY kind"

func (e *engineOf[TTx]) waitingKinds(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := e.query(ctx, waitingKindsSQL, func(scan func(...any) error) error {
		var kind string
		var n int
		if err := scan(&kind, &n); err != nil {
			return err
		}
		out[kind] = n
		return nil
	})
	return out, err
}

// fleetTable is where working clients record the kinds they run: one row
// per client, its kinds as a JSON array, and when it last said so (Unix
// seconds). It is this driver's, not River's.
const fleetTable = "opa_river_worker"

func (e *engineOf[TTx]) ensureFleet(ctx context.Context) error {
	// Two processes creating it at once on Postgres can fail one of them
	// (a unique violation in the catalog): what matters is that it can be
	// read afterwards.
	createErr := e.exec(ctx, "CREATE TABLE IF NOT EXISTS "+fleetTable+" (client_id TEXT PRIMARY KEY, kinds TEXT NOT NULL, seen_at BIGINT NOT NULL)")
	if err := e.query(ctx, "SELECT count(*) FROM "+fleetTable+" WHERE 1 = 0", func(scan func(...any) error) error {
		var n int
		return scan(&n)
	}); err != nil {
		return errors.Join(createErr, err)
	}
	return nil
}

func (e *engineOf[TTx]) heartbeat(ctx context.Context, id string, kinds []string) error {
	b, err := json.Marshal(kinds)
	if err != nil {
		return err
	}
	return e.exec(ctx, "INSERT INTO "+fleetTable+" (client_id, kinds, seen_at) VALUES ($1, $2, $3) "+
		"ON CONFLICT (client_id) DO UPDATE SET kinds = excluded.kinds, seen_at = excluded.seen_at",
		id, string(b), time.Now().Unix())
}

func (e *engineOf[TTx]) leave(ctx context.Context, id string) error {
	return e.exec(ctx, "DELETE FROM "+fleetTable+" WHERE client_id = $1", id)
}

func (e *engineOf[TTx]) fleetKinds(ctx context.Context, since time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	err := e.query(ctx, "SELECT kinds FROM "+fleetTable+" WHERE seen_at >= $1", func(scan func(...any) error) error {
		var raw string
		if err := scan(&raw); err != nil {
			return err
		}
		var kinds []string
		if err := json.Unmarshal([]byte(raw), &kinds); err != nil {
			return fmt.Errorf("%s: a row's kinds %q: %w", fleetTable, raw, err)
		}
		for _, k := range kinds {
			out[k] = true
		}
		return nil
	}, since.Unix())
	return out, err
}

func (e *engineOf[TTx]) counts(ctx context.Context) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	err := e.query(ctx, countsSQL, func(scan func(...any) error) error {
		var queue, state string
		var n int
		if err := scan(&queue, &state, &n); err != nil {
			return err
		}
		if out[queue] == nil {
			out[queue] = map[string]int{}
		}
		out[queue][state] = n
		return nil
	})
	return out, err
}

func (e *engineOf[TTx]) newClient(cfg *rq.Config) (client, error) {
	return rq.NewClient(e.driver, cfg)
}

func (e *engineOf[TTx]) close() { e.closeDB() }

// migrate runs River's migrations up, one process at a time (see
// exclusive): the first to come applies them, the others wait and find
// nothing left to do. An error is returned at once: with the runs
// serialised there is no race to lose, so an error (missing permissions, a
// clashing table) is one that trying again would not cure.
func (e *engineOf[TTx]) migrate(ctx context.Context, log *slog.Logger) error {
	m, err := rivermigrate.New(e.driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("river: migrations: %w", err)
	}
	err = e.exclusive(ctx, func(tx TTx, inTx bool) error {
		if inTx {
			// SQLite: one write transaction serialises the processes.
			//lint:ignore SA1019 the single transaction is the point here
			_, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil)
			return err
		}
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("river: migrations: %w", describe(err))
	}
	return nil
}

// checkMigrated is what a process with OPTS.migrate: no does instead of
// migrating: an error if River's migrations are not all applied.
func (e *engineOf[TTx]) checkMigrated(ctx context.Context, log *slog.Logger) error {
	m, err := rivermigrate.New(e.driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("river: migrations: %w", err)
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("river: checking River's migrations: %w", describe(err))
	}
	if !res.OK {
		return fmt.Errorf("river: OPTS.migrate is no, and the database lacks River's migrations (%s): run them first, from a worker or a deploy step with migrate: auto",
			strings.Join(res.Messages, "; "))
	}
	return nil
}

// describe adds a Postgres error's SQLSTATE to its message.
func describe(err error) error {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && !strings.Contains(err.Error(), "SQLSTATE") {
		return fmt.Errorf("%w (SQLSTATE %s)", err, pgErr.Code)
	}
	return err
}

func (e *engineOf[TTx]) insertTx(ctx context.Context, c client, tx any, args rq.JobArgs, opts *rq.InsertOpts) (*rivertype.JobInsertResult, error) {
	t, ok := tx.(TTx)
	if !ok {
		return nil, fmt.Errorf("river: EnqueueTx: the transaction is a %T; this database takes a %s", tx, e.txType())
	}
	rc, ok := c.(*rq.Client[TTx])
	if !ok {
		return nil, fmt.Errorf("river: EnqueueTx: the client is a %T, not a *river.Client[%s]", c, e.txType())
	}
	return rc.InsertTx(ctx, t, args, opts)
}

func (e *engineOf[TTx]) txType() string { return reflect.TypeFor[TTx]().String() }

// electedLeader returns the ID of the elected leader whose term has not
// expired, or "" if there is none.
func (e *engineOf[TTx]) electedLeader(ctx context.Context) (string, error) {
	l, err := e.driver.GetExecutor().LeaderGetElectedLeader(ctx, &riverdriver.LeaderGetElectedLeaderParams{})
	switch {
	case errors.Is(err, rivertype.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("river: elected leader: %w", err)
	case !l.ExpiresAt.After(time.Now()):
		return "", nil
	}
	return l.LeaderID, nil
}
