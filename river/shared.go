package river

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/opa-stack/opa-go"
)

// DBer is a component instance that holds a *sql.DB without being one: a
// data component whose instance is its own type can offer its database to
// a queue (OPTS.database) with this method.
type DBer interface {
	DB() *sql.DB
}

// sharedEngine is River on the database of the component that OPTS.database
// names, found through m: a *sql.DB on SQLite (or a DBer), or a
// *pgxpool.Pool on Postgres. That component connects first (components
// connect in sorted name order: its name must sort before this one's) and
// closes last, so the queue never closes the database; its owner does.
func sharedEngine(ctx context.Context, m *opa.Manager, name string) (engine, error) {
	if m == nil {
		return nil, fmt.Errorf("river: OPTS.database %s: the component has no Manager to find %s in (opa.Startup gives it one; river.New alone does not)", name, name)
	}
	inst, err := m.Instance(name)
	switch {
	case errors.Is(err, opa.ErrUnavailable):
		return nil, fmt.Errorf("river: OPTS.database %s: the queue shares that component's database, so it is unavailable too: %w", name, err)
	case err != nil:
		return nil, fmt.Errorf("river: OPTS.database %s: %w", name, err)
	}
	switch db := inst.(type) {
	case *sql.DB:
		return sharedSQLite(ctx, name, db)
	case DBer:
		return sharedSQLite(ctx, name, db.DB())
	case *pgxpool.Pool:
		if db == nil {
			break
		}
		return postgresEngine(db, func() {}), nil
	}
	return nil, fmt.Errorf("river: OPTS.database %s: the component's instance is a %T; a queue can share a *sql.DB on SQLite (or a value with a DB() *sql.DB method) or a *pgxpool.Pool on Postgres", name, inst)
}

// sqliteSetup is how to open a SQLite database with modernc.org/sqlite for
// River and other writers beside it.
const sqliteSetup = "file:PATH?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate"

// sharedSQLite is River on db, another component's SQLite database, once it
// is checked: it must be SQLite in WAL mode with a busy timeout, or River's
// writers and the component's would fail each other with SQLITE_BUSY.
// Whether its transactions begin IMMEDIATE (_txlock=immediate) cannot be
// read back; the package doc asks for it.
func sharedSQLite(ctx context.Context, name string, db *sql.DB) (engine, error) {
	if db == nil {
		return nil, fmt.Errorf("river: OPTS.database %s: the component's *sql.DB is nil", name)
	}
	var version, mode string
	var timeout int
	// A query may open the pool's first connection to a fresh file, whose
	// switch to WAL SQLite does not wait for (see pingSQLite): try again.
	read := func(query string, dst any) error {
		return retryBusy(ctx, func() error { return db.QueryRowContext(ctx, query).Scan(dst) })
	}
	if err := read("SELECT sqlite_version()", &version); err != nil {
		return nil, fmt.Errorf("river: OPTS.database %s: its *sql.DB (database/sql driver %T) does not answer as SQLite: %w; a queue on Postgres shares a *pgxpool.Pool", name, db.Driver(), err)
	}
	if err := read("PRAGMA journal_mode", &mode); err != nil {
		return nil, fmt.Errorf("river: OPTS.database %s: reading its journal_mode: %w", name, err)
	}
	if err := read("PRAGMA busy_timeout", &timeout); err != nil {
		return nil, fmt.Errorf("river: OPTS.database %s: reading its busy_timeout: %w", name, err)
	}
	var missing []string
	if !strings.EqualFold(mode, "wal") {
		missing = append(missing, fmt.Sprintf("its journal_mode is %s, not WAL", mode))
	}
	if timeout <= 0 {
		missing = append(missing, "it has no busy_timeout")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("river: OPTS.database %s: the SQLite database is not set up for River beside other writers: %s. Have the component open it as %s (modernc.org/sqlite)",
			name, strings.Join(missing, " and "), sqliteSetup)
	}
	return sqliteEngine(db, func() {}), nil
}
