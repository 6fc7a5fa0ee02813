package river_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dataComponent is a data component as a host's plugin gives one: a
// database of its own, whose instance a queue may share (OPTS.database).
// OPTS: url (a SQLite file or a postgres:// URL); instance: db (the
// default: a *sql.DB or *pgxpool.Pool), dber (a value with a DB method),
// sqldb (a *sql.DB on the Postgres pool) or string; plain: yes opens SQLite
// without WAL and busy timeout; txlock: deferred opens it with both but
// without _txlock=immediate; connect:
// unavailable fails as a missing server does. Its Close fails if the
// database was closed before (by the queue that shares it).
type dataComponent struct {
	opts opa.Options
	db   *sql.DB
	pool *pgxpool.Pool
}

// sqlDB is an instance that is not a *sql.DB but has one.
type sqlDB struct{ db *sql.DB }

func (s sqlDB) DB() *sql.DB { return s.db }

var _ river.DBer = sqlDB{}

// dataPlugin provides the driver "data" of dataComponent.
var dataPlugin = opa.WithPlugin("data", opa.Plugin{Drivers: []opa.Driver{{Name: "data", New: func(opts opa.Options) (opa.Component, error) {
	return &dataComponent{opts: opts}, nil
}}}})

func (d *dataComponent) Connect(ctx context.Context) error {
	if d.opts["connect"] == "unavailable" {
		return fmt.Errorf("data: nothing answers: %w", opa.ErrUnavailable)
	}
	url := d.opts["url"].(string)
	if strings.HasPrefix(url, "postgres") {
		pool, err := pgxpool.New(ctx, url)
		d.pool = pool
		return err
	}
	dsn := "file:" + url + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	if d.opts["plain"] == "yes" {
		dsn = "file:" + url
	}
	if d.opts["txlock"] == "deferred" {
		dsn = "file:" + url + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open("sqlite", dsn)
	d.db = db
	return err
}

func (d *dataComponent) Instance() any {
	switch {
	case d.opts["instance"] == "string":
		return "a string"
	case d.opts["instance"] == "dber":
		return sqlDB{d.db}
	case d.opts["instance"] == "sqldb" && d.pool != nil:
		return stdlib.OpenDBFromPool(d.pool) // a *sql.DB on Postgres
	case d.pool != nil:
		return d.pool
	}
	return d.db
}

func (d *dataComponent) Close(ctx context.Context) error {
	if d.pool != nil {
		if err := d.pool.Ping(ctx); err != nil {
			return fmt.Errorf("data: the pool was closed before its owner closed it: %w", err)
		}
		d.pool.Close()
		return nil
	}
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("data: the database was closed before its owner closed it: %w", err)
	}
	return d.db.Close()
}

// sharedHost configures a data component "db" on dbURL (with dbOpts) and a
// queue "jobs" on its database (with jobsOpts), plus extra options.
func sharedHost(t *testing.T, dbURL string, dbOpts, jobsOpts opa.Options, extra ...opa.Option) (*opa.Manager, error) {
	t.Helper()
	dbo := opa.Options{"url": dbURL}
	for k, v := range dbOpts {
		dbo[k] = v
	}
	jo := opa.Options{"database": "db"}
	for k, v := range jobsOpts {
		jo[k] = v
	}
	cfg := opa.Config{
		DefaultPluginPath: "/nonexistent/opa-river-test",
		OptionalComponents: map[string]opa.ComponentConfig{
			"db":   {Driver: "data", Opts: dbo, Load: "yes"},
			"jobs": {Driver: "river", Opts: jo, Load: "yes"},
		},
	}
	m, err := opa.New(append([]opa.Option{opa.WithConfig(cfg), opa.WithPlugin("river", river.Plugin), dataPlugin}, extra...)...)
	require.NoError(t, err)
	return m, m.StartupSimple(context.Background())
}

// dataTx is a transaction of the data component, whatever its database.
type dataTx struct {
	tx               any
	exec             func(q string, args ...any) error
	commit, rollback func() error
}

// beginData begins a transaction on the data component's instance.
func beginData(t *testing.T, m *opa.Manager) dataTx {
	t.Helper()
	tx, err := begin(m)
	require.NoError(t, err)
	return tx
}

func begin(m *opa.Manager) (dataTx, error) {
	ctx := context.Background()
	inst, err := m.Instance("db")
	if err != nil {
		return dataTx{}, err
	}
	switch db := inst.(type) {
	case *pgxpool.Pool:
		tx, err := db.Begin(ctx)
		return dataTx{tx, func(q string, args ...any) error { _, err := tx.Exec(ctx, q, args...); return err },
			func() error { return tx.Commit(ctx) }, func() error { return tx.Rollback(ctx) }}, err
	case sqlDB:
		inst = db.db
	}
	tx, err := inst.(*sql.DB).BeginTx(ctx, nil)
	if err != nil {
		return dataTx{}, err
	}
	return dataTx{tx, func(q string, args ...any) error { _, err := tx.ExecContext(ctx, q, args...); return err }, tx.Commit, tx.Rollback}, nil
}

// notesIn lists the texts of the notes table, through the data component.
func notesIn(t *testing.T, m *opa.Manager) []string {
	t.Helper()
	inst, err := m.Instance("db")
	require.NoError(t, err)
	var texts []string
	switch db := inst.(type) {
	case *pgxpool.Pool:
		rows, err := db.Query(context.Background(), "SELECT text FROM notes ORDER BY id")
		require.NoError(t, err)
		texts, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
	default:
		if s, ok := inst.(sqlDB); ok {
			inst = s.db
		}
		rows, err := inst.(*sql.DB).Query("SELECT text FROM notes ORDER BY id")
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			texts = append(texts, s)
		}
		require.NoError(t, rows.Err())
	}
	return texts
}

// A queue on the data component's database (OPTS.database): a note and its
// job commit together in one transaction of the data component, or neither
// is stored; a worker works the job, its task using the same database; and
// Shutdown leaves the database to its owner, which closes it after the
// queue.
func TestSharedDatabase(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		worked := make(chan string, 1)
		var m *opa.Manager
		task := opa.NewTask("notes.reindex", func(ctx context.Context, a reindexArgs) error {
			tx, err := begin(m)
			if err != nil {
				return err
			}
			defer tx.rollback()
			if err := tx.exec("UPDATE notes SET text = text || ' (reindexed)' WHERE id = 2"); err != nil {
				return err
			}
			if err := tx.commit(); err != nil {
				return err
			}
			worked <- fmt.Sprint(a.Note)
			return nil
		})
		var err error
		m, err = sharedHost(t, dbURL, nil, opa.Options{"poll_interval": "100ms"}, opa.WithPlugin("notes", opa.Plugin{Tasks: []opa.Task{task}}))
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
		jobs, err := opa.InstanceOf[*river.Jobs](m, "jobs")
		require.NoError(t, err)
		ctx := context.Background()

		tx := beginData(t, m)
		require.NoError(t, tx.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)"))
		require.NoError(t, tx.commit())

		tx = beginData(t, m)
		require.NoError(t, tx.exec("INSERT INTO notes (id, text) VALUES (1, 'lost')"))
		_, err = jobs.EnqueueTx(ctx, tx.tx, "notes.reindex", reindexArgs{Note: 1}, nil)
		require.NoError(t, err)
		require.NoError(t, tx.rollback())
		all, err := jobs.List(ctx, river.NewJobListParams().First(100))
		require.NoError(t, err)
		assert.Empty(t, all.Jobs, "a rolled-back transaction leaves no job")
		assert.Empty(t, notesIn(t, m), "and no row")

		tx = beginData(t, m)
		require.NoError(t, tx.exec("INSERT INTO notes (id, text) VALUES (2, 'kept')"))
		kept, err := jobs.EnqueueTx(ctx, tx.tx, "notes.reindex", reindexArgs{Note: 2}, nil)
		require.NoError(t, err)
		require.NoError(t, tx.commit())
		all, err = jobs.List(ctx, river.NewJobListParams().First(100))
		require.NoError(t, err)
		require.Len(t, all.Jobs, 1, "a committed transaction leaves exactly one job")
		assert.Equal(t, kept.ID, all.Jobs[0].ID)
		assert.Equal(t, []string{"kept"}, notesIn(t, m), "and its row")

		workCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- jobs.Work(workCtx) }()
		select {
		case note := <-worked:
			assert.Equal(t, "2", note)
		case <-time.After(60 * time.Second):
			t.Fatal("the worker did not work the job within 60s")
		}
		waitState(t, jobs, []int64{kept.ID}, "completed", 30*time.Second)
		assert.Equal(t, []string{"kept (reindexed)"}, notesIn(t, m))
		stop()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("Work did not return within 30s of its context's end")
		}
		require.NoError(t, m.Shutdown(ctx), "the queue leaves the database open for its owner to close")
	})
}

// The SQLite instance may be a value with a DB() *sql.DB method.
func TestSharedDatabaseDBer(t *testing.T) {
	m, err := sharedHost(t, filepath.Join(t.TempDir(), "app.db"), opa.Options{"instance": "dber"}, nil)
	require.NoError(t, err)
	jobs, err := opa.InstanceOf[*river.Jobs](m, "jobs")
	require.NoError(t, err)
	tx := beginData(t, m)
	_, err = jobs.EnqueueTx(context.Background(), tx.tx, "notes.reindex", reindexArgs{Note: 1}, nil)
	require.NoError(t, err)
	require.NoError(t, tx.commit())
	require.NoError(t, m.Shutdown(context.Background()))
}

// Errors name OPTS.database and the component, and say what to do.
func TestSharedDatabaseErrors(t *testing.T) {
	file := func(t *testing.T) string { return filepath.Join(t.TempDir(), "app.db") }
	tests := []struct {
		name             string
		dbOpts, jobsOpts opa.Options
		err              []string
	}{
		{name: "unknown component", jobsOpts: opa.Options{"database": "dbx"},
			err: []string{`river: OPTS.database dbx: opa: not found: Component "dbx" is not defined`, "Defined components are: [db jobs]"}},
		{name: "a component connected after the queue", jobsOpts: opa.Options{"database": "later"},
			err: []string{"river: OPTS.database later: opa: wrong state: component later is not connected yet: Startup connects the components in sorted name order, and jobs, connecting now, comes before later"}},
		{name: "wrong instance type", dbOpts: opa.Options{"instance": "string"},
			err: []string{"river: OPTS.database db: the component's instance is a string; a queue can share a *sql.DB on SQLite (or a value with a DB() *sql.DB method) or a *pgxpool.Pool on Postgres"}},
		{name: "url and database", jobsOpts: opa.Options{"url": "jobs.db"},
			err: []string{"river: OPTS.url and OPTS.database are both set"}},
		{name: "SQLite without WAL and busy timeout", dbOpts: opa.Options{"plain": "yes"},
			err: []string{"river: OPTS.database db: the SQLite database is not set up for River beside other writers: its journal_mode is delete, not WAL and it has no busy_timeout. " +
				"Have the component open it as file:PATH?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "a component connected after the queue" {
				// "later" sorts after "jobs", so it is not connected yet.
				cfg := opa.Config{DefaultPluginPath: "/nonexistent/opa-river-test", OptionalComponents: map[string]opa.ComponentConfig{
					"later": {Driver: "data", Opts: opa.Options{"url": file(t)}},
					"jobs":  {Driver: "river", Opts: tc.jobsOpts},
				}}
				m, err := opa.New(opa.WithConfig(cfg), opa.WithPlugin("river", river.Plugin), dataPlugin)
				require.NoError(t, err)
				err = m.StartupSimple(context.Background())
				require.Error(t, err)
				for _, want := range tc.err {
					assert.Contains(t, err.Error(), want)
				}
				return
			}
			m, err := sharedHost(t, file(t), tc.dbOpts, tc.jobsOpts)
			t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "opa: component jobs (driver river, plugin river)")
			for _, want := range tc.err {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// A queue on an unavailable component's database is unavailable too: with
// LOAD=auto the host starts without both, with LOAD=yes Startup fails.
func TestSharedDatabaseUnavailable(t *testing.T) {
	for _, load := range []string{"auto", "yes"} {
		t.Run(load, func(t *testing.T) {
			cfg := opa.Config{DefaultPluginPath: "/nonexistent/opa-river-test", OptionalComponents: map[string]opa.ComponentConfig{
				"db":   {Driver: "data", Load: "auto", Opts: opa.Options{"url": "unused", "connect": "unavailable"}},
				"jobs": {Driver: "river", Load: load, Opts: opa.Options{"database": "db"}},
			}}
			m, err := opa.New(opa.WithConfig(cfg), opa.WithPlugin("river", river.Plugin), dataPlugin)
			require.NoError(t, err)
			err = m.StartupSimple(context.Background())
			t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
			if load == "yes" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "Connect pre-check failed for river")
				assert.Contains(t, err.Error(), "river: OPTS.database db: the queue shares that component's database, so it is unavailable too")
				return
			}
			require.NoError(t, err)
			_, err = m.Instance("jobs")
			assert.True(t, errors.Is(err, opa.ErrUnavailable), "%v", err)
			assert.ErrorContains(t, err, "river: OPTS.database db: the queue shares that component's database, so it is unavailable too")
		})
	}
}

// A *sql.DB on Postgres is refused: River's Postgres driver takes a pgx pool.
func TestSharedDatabasePostgresSQLDB(t *testing.T) {
	_, err := sharedHost(t, postgresURL(t), opa.Options{"instance": "sqldb"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "river: OPTS.database db: its *sql.DB (database/sql driver *stdlib.Driver) does not answer as SQLite: ")
	assert.Contains(t, err.Error(), "; a queue on Postgres shares a *pgxpool.Pool")
}

// Hosts starting at once on a fresh shared SQLite file whose owner opened
// it without _txlock=immediate (its transactions begin DEFERRED, so the
// losers of the migration race get SQLITE_BUSY instead of waiting) all
// start: a busy migration is tried again.
func TestSharedSQLiteConcurrentMigrations(t *testing.T) {
	file := filepath.Join(t.TempDir(), "app.db")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			m, err := sharedHost(t, file, opa.Options{"txlock": "deferred"}, nil)
			if err == nil {
				err = m.Shutdown(context.Background())
			}
			errs <- err
		}()
	}
	for range 4 {
		assert.NoError(t, <-errs)
	}
}
