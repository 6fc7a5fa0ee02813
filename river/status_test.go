package river_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	rq "github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jobsStatus is the jobs component's status in m's report, as JSON.
func jobsStatus(t *testing.T, m *opa.Manager) map[string]any {
	t.Helper()
	for _, c := range m.ReportWithStatus(context.Background()).Components {
		if c.Name == "jobs" {
			require.Empty(t, c.StatusError)
			b, err := json.Marshal(c.Status)
			require.NoError(t, err)
			var out map[string]any
			require.NoError(t, json.Unmarshal(b, &out))
			return out
		}
	}
	t.Fatal("no jobs component in the report")
	return nil
}

// The report shows the queue's unfinished jobs by queue and state, the
// orphans (jobs of kinds no running worker has), and River's elected
// leader: none until a worker that may lead is elected.
func TestStatusOnReport(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		task := opa.NewTask("test.status", func(context.Context, struct{}) error { return nil })
		m, jobs := startHost(t, dbURL, opa.Options{"queues": "default", "leader": "yes", "poll_interval": "100ms"},
			opa.WithPlugin("tasks", opa.Plugin{Tasks: []opa.Task{task}}))
		ctx := context.Background()
		assert.Equal(t, map[string]any{"queues": map[string]any{}, "leader": "none"}, jobsStatus(t, m))

		// Jobs due in an hour: no worker takes them during the test.
		later := &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}
		for range 2 {
			_, err := jobs.Enqueue(ctx, "test.status", nil, later)
			require.NoError(t, err)
		}
		b, err := jobs.Enqueue(ctx, "test.status", nil, later)
		require.NoError(t, err)
		_, err = jobs.Cancel(ctx, b.ID)
		require.NoError(t, err)
		// The cancelled job is finished: not counted. No worker runs yet:
		// the waiting test.status jobs are orphans.
		assert.Equal(t, map[string]any{
			"queues":  map[string]any{"default": map[string]any{"scheduled": 2.0}},
			"orphans": map[string]any{"test.status": 2.0},
			"leader":  "none",
		}, jobsStatus(t, m))

		worked := make(chan error, 1)
		go func() { worked <- jobs.Work(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for st := jobsStatus(t, m); st["leader"] == "none" || st["orphans"] != nil; st = jobsStatus(t, m) {
			if time.Now().After(deadline) {
				t.Fatalf("the report shows no leader, or orphans, 30s after a worker that may lead and has the task started: %v", st)
			}
			time.Sleep(100 * time.Millisecond) // no event for "elected": poll, bounded
		}
		require.NoError(t, m.Shutdown(ctx))
		select {
		case err := <-worked:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("Work did not return within 30s of Shutdown")
		}
	})
}

// RiverClient is River's own client, typed by the database, for tools such
// as River UI; it sees the jobs Enqueue stored, and is gone after Shutdown.
func TestRiverClient(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		m, jobs := startHost(t, dbURL, nil)
		ctx := context.Background()
		row, err := jobs.Enqueue(ctx, "test.client", nil, nil)
		require.NoError(t, err)
		c, err := jobs.RiverClient()
		require.NoError(t, err)
		var got *rq.JobListResult
		switch c := c.(type) {
		case *rq.Client[*sql.Tx]:
			assert.NotContains(t, dbURL, "postgres")
			got, err = c.JobList(ctx, rq.NewJobListParams())
		case *rq.Client[pgx.Tx]:
			assert.Contains(t, dbURL, "postgres")
			got, err = c.JobList(ctx, rq.NewJobListParams())
		default:
			t.Fatalf("RiverClient is a %T", c)
		}
		require.NoError(t, err)
		require.Len(t, got.Jobs, 1)
		assert.Equal(t, row.ID, got.Jobs[0].ID)

		require.NoError(t, m.Shutdown(ctx))
		_, err = jobs.RiverClient()
		assert.ErrorIs(t, err, opa.ErrState)
	})
}
