package river

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/opa-stack/opa-go"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
)

// isPostgres reports whether OPTS.url names a Postgres server rather than a
// SQLite file.
func isPostgres(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// sqlitePath is the file OPTS.url names: a plain path, or sqlite:PATH.
func sqlitePath(u string) string {
	for _, p := range []string{"sqlite://", "sqlite:"} {
		if len(u) >= len(p) && strings.EqualFold(u[:len(p)], p) {
			return u[len(p):]
		}
	}
	return u
}

// openEngine opens the database OPTS.url names and returns River on it.
func openEngine(ctx context.Context, rawURL string) (engine, error) {
	if isPostgres(rawURL) {
		return openPostgres(ctx, rawURL)
	}
	return openSQLite(ctx, sqlitePath(rawURL))
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
	return &engineOf[*sql.Tx]{driver: riversqlite.New(db), closeDB: func() { db.Close() }}, nil
}

// pingSQLite opens the first connection. Switching a fresh file to WAL
// takes a lock that SQLite does not wait for (SQLITE_BUSY despite the busy
// timeout) while another process opens the file too: try again a few times.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	for try := 1; ; try++ {
		err := db.PingContext(ctx)
		if err == nil || try == 20 || !strings.Contains(err.Error(), "SQLITE_BUSY") {
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
	return &engineOf[pgx.Tx]{driver: riverpgxv5.New(pool), closeDB: pool.Close}, nil
}

// redactedHost is HOST:PORT/DATABASE of a URL, for messages.
func redactedHost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host + u.Path
}
