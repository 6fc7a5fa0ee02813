package river_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/opa-stack/opa-go/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appDB is the application's own connection to the jobs' database, as a
// data component would hold it.
type appDB struct {
	begin func(t *testing.T) (tx any, exec func(sql string) error, commit, rollback func() error)
}

func openAppDB(t *testing.T, dbURL string) appDB {
	ctx := context.Background()
	if strings.HasPrefix(dbURL, "postgres") {
		conn, err := pgx.Connect(ctx, dbURL)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close(context.Background()) })
		return appDB{begin: func(t *testing.T) (any, func(string) error, func() error, func() error) {
			tx, err := conn.Begin(ctx)
			require.NoError(t, err)
			exec := func(q string) error { _, err := tx.Exec(ctx, q); return err }
			return tx, exec, func() error { return tx.Commit(ctx) }, func() error { return tx.Rollback(ctx) }
		}}
	}
	db, err := sql.Open("sqlite", "file:"+dbURL+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return appDB{begin: func(t *testing.T) (any, func(string) error, func() error, func() error) {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		exec := func(q string) error { _, err := tx.ExecContext(ctx, q); return err }
		return tx, exec, tx.Commit, tx.Rollback
	}}
}

// EnqueueTx stores the job in the caller's transaction: a rolled-back
// transaction leaves neither the row nor the job, a committed one both,
// the job exactly once.
func TestEnqueueTx(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		ctx := context.Background()
		app := openAppDB(t, dbURL)
		_, exec, commit, _ := app.begin(t)
		require.NoError(t, exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)"))
		require.NoError(t, commit())

		tx, exec, _, rollback := app.begin(t)
		require.NoError(t, exec("INSERT INTO notes (id, text) VALUES (1, 'lost')"))
		lost, err := jobs.EnqueueTx(ctx, tx, "notes.count_words", map[string]any{"note": 1}, nil)
		require.NoError(t, err)
		require.NoError(t, rollback())
		_, err = jobs.Job(ctx, lost.ID)
		assert.ErrorContains(t, err, "not found", "the rolled-back transaction's job")

		tx, exec, commit, _ = app.begin(t)
		require.NoError(t, exec("INSERT INTO notes (id, text) VALUES (2, 'kept')"))
		kept, err := jobs.EnqueueArgsTx(ctx, tx, reindexArgs{Note: 2}, nil)
		require.NoError(t, err)
		require.NoError(t, commit())
		row, err := jobs.Job(ctx, kept.ID)
		require.NoError(t, err)
		assert.Equal(t, "notes.reindex", row.Kind)
		assert.JSONEq(t, `{"note":2}`, string(row.EncodedArgs))

		all, err := jobs.List(ctx, river.NewJobListParams().First(100))
		require.NoError(t, err)
		require.Len(t, all.Jobs, 1, "exactly one job: the committed one")
		assert.Equal(t, kept.ID, all.Jobs[0].ID)

		_, err = jobs.EnqueueTx(ctx, "not a transaction", "x", nil, nil)
		assert.ErrorContains(t, err, "the transaction is a string; this database takes a")
		_, err = jobs.EnqueueTx(ctx, nil, "x", nil, nil)
		assert.ErrorContains(t, err, "no transaction")
	})
}
