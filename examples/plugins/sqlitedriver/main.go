// Package main is the "sqlitedriver" example plugin: a driver, and nothing
// else. It lets OPTIONAL_COMPONENTS name DRIVER: sqlite, and builds a
// component whose instance is a *sql.DB on a SQLite file, through
// modernc.org/sqlite (pure Go: no server, no C library).
//
// A driver lives in a plugin of its own so that the plugins using the
// database import only database/sql, never the driver: switching the "db"
// component to another database is a settings change, and the driver's large
// dependency is linked into this one plugin.
//
// OPTS:
//
//	path: notes.db  # the database file; a relative path is taken inside the
//	                # host's data directory (the example host's -data flag)
//
// The database is opened for several writers (WAL, a busy timeout,
// immediate transactions), so the job queue may share it (the river
// driver's OPTS.database: db): a plugin stores a row and queues its job in
// one transaction.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opa-stack/opa-go"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Drivers: []opa.Driver{{Name: "sqlite", New: newComponent}},
}

// component is one SQLite database. New only reads the options; Connect
// opens the file; Close closes it at Shutdown.
type component struct {
	path string
	db   *sql.DB
}

// The compile-time checks that component has the methods opa looks for.
var (
	_ opa.Component = (*component)(nil)
	_ opa.Closer    = (*component)(nil)
)

func newComponent(opts opa.Options) (opa.Component, error) {
	path, _ := opts["path"].(string)
	if path == "" {
		return nil, errors.New("sqlite: OPTS.path (the database file) is required")
	}
	return &component{path: path}, nil
}

// Connect opens (and creates, if needed) the database file. An embedded
// database is always there, so no error here wraps opa.ErrUnavailable: with
// any LOAD, a file that cannot be opened fails Startup.
func (c *component) Connect(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	// WAL, a busy timeout and immediate transactions let several requests,
	// several processes (the host and its workers) and a job queue sharing
	// the file (River, OPTS.database: db) read and write at once: readers
	// never wait, and a writer waits up to 10s for another one. A
	// transaction takes the write lock as it begins (_txlock=immediate), so
	// it waits there rather than failing with SQLITE_BUSY halfway. The
	// pool keeps database/sql's default size: River advises one connection
	// on SQLite, but with immediate transactions several are as safe as
	// several processes, readers do not queue behind a writer, and code
	// that writes outside the transaction it holds open gets SQLITE_BUSY
	// after 10s, where one connection would wait for ever.
	dsn := "file:" + c.path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", c.path, err)
	}
	if err := ping(ctx, db); err != nil {
		db.Close()
		return fmt.Errorf("sqlite: open %s: %w", c.path, err)
	}
	c.db = db
	return nil
}

// ping opens the first connection. Turning a new file to WAL takes a lock
// that SQLite does not wait for (SQLITE_BUSY despite the busy timeout) when
// another process, a worker starting beside the host, opens the file at the
// same moment: try again for a second.
func ping(ctx context.Context, db *sql.DB) error {
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

// Instance is the *sql.DB that handlers use.
func (c *component) Instance() any { return c.db }

// Close closes the database at Shutdown.
func (c *component) Close(context.Context) error { return c.db.Close() }

func main() {}
