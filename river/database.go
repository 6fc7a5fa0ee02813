package river

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/opa-stack/opa-go"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// dbKind is the kind of database OPTS.url names.
type dbKind int

const (
	dbSQLite dbKind = iota + 1
	dbPostgres
)

// libpqKeyValue matches the start of a libpq "key=value ..." string.
var libpqKeyValue = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)

// parseURL says what OPTS.url names: a SQLite file (a plain path, or
// sqlite:PATH, sqlite://PATH), or a Postgres server (postgres:// or
// postgresql://), and returns the path or the URL. Anything else is
// refused, never taken for a file name; the error shows the value with its
// password replaced (or not at all, where no password can be told apart).
func parseURL(raw string) (dbKind, string, error) {
	u := strings.TrimSpace(raw)
	l := strings.ToLower(u)
	switch {
	case u == "":
		return 0, "", errors.New("river: OPTS.url is empty")
	case strings.HasPrefix(l, "postgres://"), strings.HasPrefix(l, "postgresql://"):
		return dbPostgres, u, nil
	case strings.HasPrefix(l, "sqlite:"):
		path := strings.TrimPrefix(u[len("sqlite:"):], "//")
		if path == "" {
			return 0, "", errors.New("river: OPTS.url sqlite: names no file: write sqlite:PATH or a plain path")
		}
		return dbSQLite, path, nil
	case libpqKeyValue.MatchString(u):
		return 0, "", errors.New("river: OPTS.url looks like a libpq key=value connection string, which is not supported: write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE")
	}
	if scheme, _, ok := strings.Cut(u, ":"); ok && scheme != "" && !strings.Contains(scheme, "/") {
		return 0, "", fmt.Errorf("river: OPTS.url %s: unsupported scheme: use a SQLite file path, sqlite:PATH, or a postgres:// or postgresql:// URL", redactURL(u))
	}
	return dbSQLite, u, nil
}

// redactURL is a URL for messages: its password replaced by xxxxx, or
// "(not shown)" where it does not parse as SCHEME://HOST.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" && u.User == nil {
		return "(not shown)"
	}
	return u.Redacted()
}

// openEngine opens the database OPTS.url names and returns River on it.
func openEngine(ctx context.Context, rawURL string) (engine, error) {
	kind, target, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if kind == dbPostgres {
		return openPostgres(ctx, target)
	}
	return openSQLite(ctx, target)
}

// openSQLite opens (and creates) a SQLite file. River wants one connection
// per process (SQLite runs one writer at a time); WAL, a busy timeout and
// immediate transactions let several processes share the file. A file that
// cannot be opened is an error, never ErrUnavailable: an embedded database
// is always there.
func openSQLite(ctx context.Context, path string) (engine, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("river: SQLite file %q: a path with ? or # is not supported", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("river: SQLite file %s: its directory: %w", path, err)
		}
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("river: SQLite file %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := pingSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("river: SQLite file %s: %w", path, err)
	}
	return sqliteEngine(db, func() { db.Close() }), nil
}

// sqliteEngine is River on db, a SQLite database; closeDB closes it, or
// does nothing where another component owns it.
func sqliteEngine(db *sql.DB, closeDB func()) engine {
	// A write transaction (BEGIN IMMEDIATE: _txlock) holds SQLite's one write
	// lock: another process's migrations wait for it (busy_timeout). A
	// shared database whose transactions begin DEFERRED (its owner opened it
	// without _txlock=immediate, which cannot be checked) gives SQLITE_BUSY
	// instead of waiting when two processes migrate at once: the loser
	// tries again, and finds the migrations applied.
	exclusive := func(ctx context.Context, fn func(tx *sql.Tx, inTx bool) error) error {
		return retryBusy(ctx, func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := fn(tx, true); err != nil {
				return err
			}
			return tx.Commit()
		})
	}
	// SQLite numbers its parameters ?1, ?2, ...: the same SQL as Postgres's
	// $1, $2, ... with the sign changed (no query here has a $ elsewhere).
	sqliteSQL := func(q string) string { return strings.ReplaceAll(q, "$", "?") }
	query := func(ctx context.Context, q string, row func(scan func(...any) error) error, args ...any) error {
		rows, err := db.QueryContext(ctx, sqliteSQL(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return eachRow(rows, row)
	}
	exec := func(ctx context.Context, q string, args ...any) error {
		_, err := db.ExecContext(ctx, sqliteSQL(q), args...)
		return err
	}
	return &engineOf[*sql.Tx]{driver: riversqlite.New(db), closeDB: closeDB, exclusive: exclusive, query: query, exec: exec}
}

// pingSQLite opens the first connection. Switching a fresh file to WAL
// takes a lock that SQLite does not wait for (SQLITE_BUSY despite the busy
// timeout) while another process opens the file too: try again a few times.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	return retryBusy(ctx, func() error { return db.PingContext(ctx) })
}

// isBusy says whether err is SQLITE_BUSY, or one of its extended codes
// (SQLITE_BUSY_SNAPSHOT, 517: a deferred transaction's read snapshot went
// stale before it could write).
func isBusy(err error) bool {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		return e.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return strings.Contains(err.Error(), "SQLITE_BUSY")
}

// retryBusy runs fn until it returns anything but SQLITE_BUSY, 50ms apart,
// for up to 10s, within ctx: long enough for a few processes that migrate
// a fresh file at once, one after the other, on a loaded machine (a run of
// River's migrations takes a second or more there).
func retryBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// openPostgres connects to a Postgres server. A server that cannot be
// reached is an error wrapping opa.ErrUnavailable (so LOAD=auto goes on
// without it); one that answers with an error (a wrong password, a missing
// database) is a plain error. Errors name the host, never the password.
func openPostgres(ctx context.Context, rawURL string) (engine, error) {
	where := redactedHost(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("river: OPTS.url is not a valid postgres URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("river: postgres %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
			return nil, fmt.Errorf("river: postgres %s: %s (SQLSTATE %s)", where, pgErr.Message, pgErr.Code)
		}
		return nil, fmt.Errorf("%w: river: postgres %s: %w", opa.ErrUnavailable, where, err)
	}
	return postgresEngine(pool, pool.Close), nil
}

// postgresEngine is River on pool; closeDB closes it, or does nothing
// where another component owns it.
func postgresEngine(pool *pgxpool.Pool, closeDB func()) engine {
	query := func(ctx context.Context, q string, row func(scan func(...any) error) error, args ...any) error {
		rows, err := pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return eachRow(rows, row)
	}
	exec := func(ctx context.Context, q string, args ...any) error {
		_, err := pool.Exec(ctx, q, args...)
		return err
	}
	return &engineOf[pgx.Tx]{driver: riverpgxv5.New(pool), closeDB: closeDB, exclusive: advisoryLocked(pool), query: query, exec: exec}
}

// eachRow calls row for each of rows, which database/sql's and pgx's rows
// both are; the caller closes them.
func eachRow(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}, row func(scan func(...any) error) error) error {
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// migrateLockKey is the Postgres advisory lock that serialises migrations:
// an arbitrary constant, the same in every process of every version.
const migrateLockKey int64 = 0x3c5d_2a81_7e4f_09b6

// advisoryLocked runs fn holding a session advisory lock on one connection
// of the pool; River migrates on the pool's other connections (each
// migration in its own transaction, as River wants). Another process waits
// for the lock, then finds the migrations applied.
func advisoryLocked(pool *pgxpool.Pool) func(ctx context.Context, fn func(tx pgx.Tx, inTx bool) error) error {
	return func(ctx context.Context, fn func(tx pgx.Tx, inTx bool) error) error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("waiting for other processes' migrations (advisory lock): %w", err)
		}
		ferr := fn(nil, false)
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
			// The lock is the session's: closing the connection drops it.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
		return ferr
	}
}

// redactedHost is HOST:PORT/DATABASE of a URL, for messages.
func redactedHost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host + u.Path
}
