package river

import (
	"context"
	"fmt"
	"slices"
	"time"

	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// engine is River on one database, whatever its transaction type: SQLite
// through database/sql, Postgres through pgx.
type engine interface {
	// migrate runs River's migrations up.
	migrate(ctx context.Context) error
	// newClient makes a River client on the database.
	newClient(cfg *rq.Config) (client, error)
	// foreignKinds lists up to max kinds of stored jobs that are not in known.
	foreignKinds(ctx context.Context, known []string, max int) ([]string, error)
	// close closes the database.
	close()
}

// client is what this package uses of a *river.Client, for any TTx.
type client interface {
	Insert(ctx context.Context, args rq.JobArgs, opts *rq.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Stopped() <-chan struct{}
	ID() string
}

// engineOf is the engine for one River driver.
type engineOf[TTx any] struct {
	driver  riverdriver.Driver[TTx]
	closeDB func()
}

func (e *engineOf[TTx]) newClient(cfg *rq.Config) (client, error) {
	return rq.NewClient(e.driver, cfg)
}

func (e *engineOf[TTx]) close() { e.closeDB() }

// migrate runs the migrations, and again if they fail: two processes that
// start on a fresh database migrate at once, each migration runs in its own
// transaction, and the one that loses the race sees the winner's versions on
// its next try.
func (e *engineOf[TTx]) migrate(ctx context.Context) error {
	m, err := rivermigrate.New(e.driver, nil)
	if err != nil {
		return fmt.Errorf("river: migrations: %w", err)
	}
	for try := 1; ; try++ {
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil {
			return nil
		}
		if try == 10 || ctx.Err() != nil {
			return fmt.Errorf("river: migrations: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		}
	}
}

// foreignKinds lists every stored kind and leaves out the known ones in Go:
// riversqlite v0.51.2 numbers its query's LIMIT parameter wrongly when more
// than one kind is excluded ("datatype mismatch").
func (e *engineOf[TTx]) foreignKinds(ctx context.Context, known []string, max int) ([]string, error) {
	kinds, err := e.driver.GetExecutor().JobKindList(ctx, &riverdriver.JobKindListParams{Max: 10_000})
	if err != nil {
		return nil, fmt.Errorf("river: list job kinds: %w", err)
	}
	var out []string
	for _, k := range kinds {
		if !slices.Contains(known, k) && len(out) < max {
			out = append(out, k)
		}
	}
	return out, nil
}
