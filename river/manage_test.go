package river_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An operator lists jobs, cancels a waiting one (it never runs), retries
// it, and sees the unfinished jobs by queue and state, and the orphans by
// kind.
func TestListCancelRetryCounts(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, opa.Options{"queues": "default,mail"})
		ctx := context.Background()
		a, err := jobs.Enqueue(ctx, "test.a", nil, nil)
		require.NoError(t, err)
		b, err := jobs.Enqueue(ctx, "test.b", nil, nil)
		require.NoError(t, err)
		_, err = jobs.Enqueue(ctx, "test.a", nil, &river.InsertOpts{Queue: "mail"})
		require.NoError(t, err)

		row, err := jobs.Cancel(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, "cancelled", string(row.State))
		counts, err := jobs.Counts(ctx)
		require.NoError(t, err)
		// Unfinished jobs only; no worker runs, so each waiting kind is an orphan.
		assert.Equal(t, &river.JobCounts{Queues: map[string]map[string]int{"default": {"available": 1}, "mail": {"available": 1}},
			Orphans: map[string]int{"test.a": 2}}, counts)

		res, err := jobs.List(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable).Queues("default"))
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
		assert.Equal(t, a.ID, res.Jobs[0].ID)
		all, err := jobs.List(ctx, nil)
		require.NoError(t, err)
		assert.Len(t, all.Jobs, 3)

		row, err = jobs.Retry(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, "available", string(row.State))
		counts, err = jobs.Counts(ctx)
		require.NoError(t, err)
		assert.Equal(t, &river.JobCounts{Queues: map[string]map[string]int{"default": {"available": 2}, "mail": {"available": 1}},
			Orphans: map[string]int{"test.a": 2, "test.b": 1}}, counts)

		_, err = jobs.Cancel(ctx, 987654)
		assert.ErrorIs(t, err, opa.ErrNotFound)
		_, err = jobs.Retry(ctx, 987654)
		assert.ErrorIs(t, err, opa.ErrNotFound)

		// The table of working processes gone after Connect: the orphans
		// cannot be told, and the counts stand without them (they were
		// lost with them: the report and the metrics showed no queue).
		execSQL(t, dbURL, "DROP TABLE opa_river_worker")
		counts, err = jobs.Counts(ctx)
		require.NoError(t, err)
		assert.Equal(t, &river.JobCounts{Queues: map[string]map[string]int{"default": {"available": 2}, "mail": {"available": 1}}}, counts)
	})
}

// execSQL runs query on the database of dbURL (SQLite or Postgres).
func execSQL(t *testing.T, dbURL, query string) {
	t.Helper()
	ctx := context.Background()
	if strings.HasPrefix(dbURL, "postgres") {
		conn, err := pgx.Connect(ctx, dbURL)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, query)
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
		return
	}
	db, err := sql.Open("sqlite", dbURL)
	require.NoError(t, err)
	_, err = db.Exec(query)
	require.NoError(t, err)
	require.NoError(t, db.Close())
}
