package river_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reindexArgs are typed args whose type names their kind.
type reindexArgs struct {
	Note int `json:"note"`
}

func (reindexArgs) Kind() string { return "notes.reindex" }

// A host without tasks (web mode) enqueues by kind with JSON-able args, or
// typed; it cannot work.
func TestHostEnqueues(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, opa.Options{"queues": "default,other"})
		ctx := context.Background()

		row, err := jobs.Enqueue(ctx, "notes.reindex", map[string]any{"note": 7}, nil)
		require.NoError(t, err)
		assert.Equal(t, "notes.reindex", row.Kind)
		assert.Equal(t, "available", string(row.State))
		assert.JSONEq(t, `{"note":7}`, string(row.EncodedArgs))

		row, err = jobs.EnqueueArgs(ctx, reindexArgs{Note: 8}, &river.InsertOpts{MaxAttempts: 3, Queue: "other"})
		require.NoError(t, err)
		assert.Equal(t, "notes.reindex", row.Kind)
		assert.Equal(t, 3, row.MaxAttempts)
		assert.Equal(t, "other", row.Queue)
		assert.JSONEq(t, `{"note":8}`, string(row.EncodedArgs))

		row, err = jobs.Enqueue(ctx, "raw", json.RawMessage(`[1,2]`), nil)
		require.NoError(t, err)
		assert.JSONEq(t, `[1,2]`, string(row.EncodedArgs))
		row, err = jobs.Enqueue(ctx, "none", nil, nil)
		require.NoError(t, err)
		assert.JSONEq(t, `{}`, string(row.EncodedArgs))

		got, err := jobs.Job(ctx, row.ID)
		require.NoError(t, err)
		assert.Equal(t, row.ID, got.ID)
		_, err = jobs.Job(ctx, 987654)
		assert.ErrorIs(t, err, opa.ErrNotFound)

		_, err = jobs.Enqueue(ctx, "raw", []byte(`{nope`), nil)
		assert.ErrorContains(t, err, "args are not valid JSON")
		_, err = jobs.Enqueue(ctx, "", nil, nil)
		assert.ErrorContains(t, err, "empty kind")
		_, err = jobs.Enqueue(ctx, "bad", func() {}, nil)
		assert.ErrorContains(t, err, "args do not marshal to JSON")

		assert.Empty(t, jobs.Kinds())
		assert.ErrorContains(t, jobs.Work(ctx), "no loaded plugin declares a task")
	})
}

// In one process: Work runs the loaded plugins' tasks; a second Work is
// refused; Shutdown stops Work, which returns nil; the closed Jobs refuses
// to enqueue.
func TestWorkInProcessAndShutdown(t *testing.T) {
	dbURL := filepath.Join(t.TempDir(), "jobs.db")
	var ran atomic.Int32
	task := opa.NewTask("notes.reindex", func(_ context.Context, a reindexArgs) error {
		ran.Add(int32(a.Note))
		return nil
	})
	m, jobs := startHost(t, dbURL, opa.Options{"poll_interval": "100ms", "leader": "yes"},
		opa.WithPlugin("notes", opa.Plugin{Tasks: []opa.Task{task}}))
	assert.Equal(t, []string{"notes.reindex"}, jobs.Kinds())

	done := make(chan error, 1)
	go func() { done <- jobs.Work(context.Background()) }()
	row, err := jobs.EnqueueArgs(context.Background(), reindexArgs{Note: 5}, nil)
	require.NoError(t, err)
	waitState(t, jobs, []int64{row.ID}, "completed", 30*time.Second)
	assert.Equal(t, int32(5), ran.Load())
	assert.ErrorIs(t, jobs.Work(context.Background()), opa.ErrState)

	require.NoError(t, m.Shutdown(context.Background()))
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Work did not return after Shutdown")
	}
	_, err = jobs.Enqueue(context.Background(), "x", nil, nil)
	assert.ErrorIs(t, err, opa.ErrState)
	assert.ErrorIs(t, jobs.Work(context.Background()), opa.ErrState)
}

// Connect: a SQLite file that cannot be opened, or whose migrations fail, is
// an error, never "unavailable".
func TestConnectSQLiteErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o644))
	clash := filepath.Join(dir, "clash.db")
	db, err := sql.Open("sqlite", clash)
	require.NoError(t, err)
	_, err = db.Exec("CREATE TABLE river_migration (unrelated INTEGER)")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	tests := []struct{ name, url, err string }{
		{"missing directory", filepath.Join(dir, "no", "such", "jobs.db"), "its directory"},
		{"not a database", garbage, "garbage.db"},
		{"migrations fail", clash, "river: migrations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newHost(tc.url, nil)
			require.NoError(t, err)
			err = m.StartupSimple(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.False(t, errors.Is(err, opa.ErrUnavailable), "%v", err)
		})
	}
}

// Connect: a Postgres server that is not there is unavailable, so LOAD=auto
// goes on without it; LOAD=yes fails. The password never shows.
func TestConnectPostgresUnreachable(t *testing.T) {
	const dbURL = "postgres://opa:s3cretpw@127.0.0.1:1/jobs?connect_timeout=2"
	m, jobsErr := startAuto(t, dbURL)
	assert.ErrorIs(t, jobsErr, opa.ErrUnavailable)
	assert.NotContains(t, jobsErr.Error(), "s3cretpw")
	rep := m.Report()
	require.Len(t, rep.Components, 1)
	assert.Equal(t, opa.StateUnavailable, rep.Components[0].State)
	assert.NotContains(t, rep.Components[0].Error, "s3cretpw")

	m2, err := newHost(dbURL, opa.Options{}, opa.WithConfig(opa.Config{
		DefaultPluginPath: "/nonexistent/opa-river-test",
		OptionalComponents: map[string]opa.ComponentConfig{"jobs": {Load: "yes", Driver: "river",
			Opts: opa.Options{"url": dbURL}}},
	}))
	require.NoError(t, err)
	err = m2.StartupSimple(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cretpw")
}

// Connect: a Postgres server that answers with an error (a wrong password)
// fails Startup even with LOAD=auto.
func TestConnectPostgresWrongPassword(t *testing.T) {
	u, err := url.Parse(postgresURL(t))
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "wrong-password")
	m, err := newHost(u.String(), nil)
	require.NoError(t, err)
	err = m.StartupSimple(context.Background())
	require.Error(t, err)
	assert.False(t, errors.Is(err, opa.ErrUnavailable), "%v", err)
	assert.Contains(t, err.Error(), "28P01") // invalid_password
	assert.NotContains(t, err.Error(), "wrong-password")
}

// startAuto starts a host whose jobs component has LOAD=auto and returns the
// error its Instance gives.
func startAuto(t *testing.T, dbURL string) (*opa.Manager, error) {
	t.Helper()
	m, err := newHost(dbURL, nil)
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(context.Background()))
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	_, err = opa.InstanceOf[*river.Jobs](m, "jobs")
	require.Error(t, err)
	return m, err
}

// Three processes' worth of hosts connecting at once to a fresh database all
// migrate it: the ones that lose the race try again.
func TestConcurrentConnectsMigrate(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				m, err := newHost(dbURL, nil)
				if err == nil {
					if err = m.StartupSimple(context.Background()); err == nil {
						err = m.Shutdown(context.Background())
					}
				}
				errs <- err
			}()
		}
		for range 3 {
			assert.NoError(t, <-errs)
		}
	})
}

// A URL that is neither a SQLite path nor a Postgres URL fails Startup,
// its password not shown, and creates no file.
func TestConnectRefusesOtherURLs(t *testing.T) {
	for _, u := range []string{"pgsql://opa:s3cretpw@127.0.0.1/jobs", "host=127.0.0.1 password=s3cretpw dbname=jobs"} {
		t.Run(u, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			m, err := newHost(u, nil)
			require.NoError(t, err)
			err = m.StartupSimple(context.Background())
			require.Error(t, err, "Startup with OPTS.url %q", u)
			assert.Contains(t, err.Error(), "OPTS.url")
			assert.NotContains(t, err.Error(), "s3cretpw")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "no file is created for a URL that is not a SQLite path")
		})
	}
}

// OPTS.migrate: no (a web host) never migrates: on a database without
// River's tables Startup fails, saying where the migrations must run, and
// leaves the database as it was. Once a process with migrate: auto has run
// them, a host with migrate: no enqueues.
func TestMigrateNo(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		m, err := newHost(dbURL, opa.Options{"migrate": "no"})
		require.NoError(t, err)
		err = m.StartupSimple(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "OPTS.migrate is no, and the database lacks River's migrations (Unapplied migrations: [1 2 3")
		assert.Contains(t, err.Error(), "with migrate: auto")
		assert.False(t, errors.Is(err, opa.ErrUnavailable), "%v", err)
		if !strings.HasPrefix(dbURL, "postgres") {
			db, err := sql.Open("sqlite", dbURL)
			require.NoError(t, err)
			var tables int
			require.NoError(t, db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name LIKE 'river%'").Scan(&tables))
			require.NoError(t, db.Close())
			assert.Zero(t, tables, "migrate: no created River tables")
		}

		startHost(t, dbURL, nil) // migrate: auto
		_, jobs := startHost(t, dbURL, opa.Options{"migrate": false})
		_, err = jobs.Enqueue(context.Background(), "notes.reindex", nil, nil)
		require.NoError(t, err)
	})
}

// A permanent migration error (a table in River's way) fails Startup with
// the database's reason; it is not "unavailable".
func TestMigrateClash(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		execSQL(t, dbURL, "CREATE TABLE river_job (unrelated INTEGER)")
		m, err := newHost(dbURL, nil)
		require.NoError(t, err)
		err = m.StartupSimple(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "river: migrations: error applying version 002")
		assert.Contains(t, err.Error(), "already exists")
		assert.LessOrEqual(t, strings.Count(err.Error(), "SQLSTATE"), 1, "%v", err)
		assert.False(t, errors.Is(err, opa.ErrUnavailable), "%v", err)
	})
}

// Shutdown while a task ignores its cancelled context: Close gives up at
// its deadline with an error, but leaves the database open until the task
// returns, so River still records the job as completed.
func TestCloseWaitsForRunningClient(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		started, release := make(chan struct{}), make(chan struct{})
		task := opa.NewTask("test.stubborn", func(context.Context, struct{}) error {
			close(started)
			<-release // ignores its context
			return nil
		})
		m, err := opa.New(opa.WithConfig(opa.Config{
			DefaultPluginPath: "/nonexistent/opa-river-test",
			ComponentTimeout:  3 * time.Second,
			OptionalComponents: map[string]opa.ComponentConfig{"jobs": {Driver: "river", Opts: opa.Options{
				"url": dbURL, "leader": "yes", "stop_timeout": "1s", "poll_interval": "100ms"}}},
		}), opa.WithPlugin("river", river.Plugin), opa.WithPlugin("stubborn", opa.Plugin{Tasks: []opa.Task{task}}))
		require.NoError(t, err)
		require.NoError(t, m.StartupSimple(context.Background()))
		jobs, err := opa.InstanceOf[*river.Jobs](m, "jobs")
		require.NoError(t, err)
		worked := make(chan error, 1)
		go func() { worked <- jobs.Work(context.Background()) }()
		row, err := jobs.Enqueue(context.Background(), "test.stubborn", nil, nil)
		require.NoError(t, err)
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("the task did not start within 30s")
		}

		err = m.Shutdown(context.Background())
		require.Error(t, err, "Shutdown while a task ignores its context")
		assert.Contains(t, err.Error(), "the database is closed when they return")
		close(release)
		select {
		case <-worked:
		case <-time.After(30 * time.Second):
			t.Fatal("Work did not return within 30s of the task's return")
		}

		_, other := startHost(t, dbURL, opa.Options{"migrate": "no"})
		waitState(t, other, []int64{row.ID}, "completed", 30*time.Second)
	})
}

// checkedArgs validate themselves.
type checkedArgs struct {
	Note int `json:"note"`
}

func (checkedArgs) Kind() string { return "notes.checked" }

func (a checkedArgs) Validate() error {
	if a.Note <= 0 {
		return fmt.Errorf("note must be positive, got %d", a.Note)
	}
	return nil
}

// Args with a Validate method are checked before they are stored.
func TestEnqueueValidatesArgs(t *testing.T) {
	_, jobs := startHost(t, filepath.Join(t.TempDir(), "jobs.db"), nil)
	ctx := context.Background()
	_, err := jobs.EnqueueArgs(ctx, checkedArgs{Note: 0}, nil)
	assert.ErrorContains(t, err, "river: enqueue notes.checked: invalid args: note must be positive, got 0")
	_, err = jobs.Enqueue(ctx, "notes.checked", checkedArgs{Note: -1}, nil)
	assert.ErrorContains(t, err, "invalid args: note must be positive, got -1")
	row, err := jobs.EnqueueArgs(ctx, checkedArgs{Note: 3}, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(1), row.ID, "only the valid job is stored")
}

// Work given a context that is already done (a SIGTERM while the worker
// started) starts, stops at once and returns nil.
func TestWorkWithDoneContext(t *testing.T) {
	task := opa.NewTask("notes.reindex", func(context.Context, reindexArgs) error { return nil })
	_, jobs := startHost(t, filepath.Join(t.TempDir(), "jobs.db"), opa.Options{"leader": "auto"},
		opa.WithPlugin("notes", opa.Plugin{Tasks: []opa.Task{task}}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.NoError(t, jobs.Work(ctx))
}

// A misspelt OPTS key fails Startup before the driver's New, as a config
// error that names the setting and the key it likely meant.
func TestUnknownOptsKeyIsAConfigError(t *testing.T) {
	m, err := newHost(filepath.Join(t.TempDir(), "jobs.db"), opa.Options{"max_attempt": 3})
	require.NoError(t, err)
	err = m.StartupSimple(context.Background())
	require.ErrorIs(t, err, opa.ErrConfig)
	assert.ErrorContains(t, err, "unknown setting OPTIONAL_COMPONENTS.JOBS.OPTS.MAX_ATTEMPT")
	assert.ErrorContains(t, err, "did you mean MAX_ATTEMPTS?")
	_ = m.Shutdown(context.Background())
}
