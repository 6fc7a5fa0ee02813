package river_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	rq "github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
)

// noopArgs are the args of the benchmark's task, which does nothing.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench.noop" }

// BenchmarkThroughput measures the jobs per second one worker (Work, in
// this process) runs of a task that does nothing, b.N jobs inserted
// before the clock starts, on SQLite and on Postgres, with the default
// OPTS (capped at workers ÷ fetch_cooldown = 100 jobs/s) and with workers:
// 1000. The README's Throughput table is measured with
//
//	go test -run '^$' -bench Throughput -benchtime 20000x .
//
// (with OPA_TEST_POSTGRES_URL set for the Postgres rows; the default rows
// with -benchtime 500x).
func BenchmarkThroughput(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, tc := range []struct {
			name string
			opts opa.Options
		}{
			{name: "default", opts: opa.Options{}},
			{name: "workers=1000", opts: opa.Options{"workers": 1000}},
		} {
			b.Run(db+"/"+tc.name, func(b *testing.B) {
				dbURL := filepath.Join(b.TempDir(), "jobs.db")
				if db == "postgres" {
					dbURL = postgresURL(b)
				}
				benchThroughput(b, dbURL, tc.opts)
			})
		}
	}
}

func benchThroughput(b *testing.B, dbURL string, opts opa.Options) {
	b.ReportAllocs()
	task := opa.NewTask("bench.noop", func(context.Context, noopArgs) error { return nil })
	opts["leader"] = "yes"
	m, err := newHost(dbURL, opts, opa.WithPlugin("bench", opa.Plugin{Tasks: []opa.Task{task}}))
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, m.StartupSimple(ctx))
	defer func() { _ = m.Shutdown(ctx) }()
	jobs, err := opa.InstanceOf[*river.Jobs](m, "jobs")
	require.NoError(b, err)

	// Insert b.N jobs, a thousand at a time, before the clock starts.
	c, err := jobs.RiverClient()
	require.NoError(b, err)
	for left := b.N; left > 0; left -= 1000 {
		batch := make([]rq.InsertManyParams, min(left, 1000))
		for i := range batch {
			batch[i] = rq.InsertManyParams{Args: noopArgs{}}
		}
		switch c := c.(type) {
		case *rq.Client[*sql.Tx]:
			_, err = c.InsertMany(ctx, batch)
		case *rq.Client[pgx.Tx]:
			_, err = c.InsertMany(ctx, batch)
		default:
			err = fmt.Errorf("RiverClient is a %T", c)
		}
		require.NoError(b, err)
	}

	b.ResetTimer()
	start := time.Now()
	workCtx, stop := context.WithCancel(ctx)
	worked := make(chan error, 1)
	go func() { worked <- jobs.Work(workCtx) }()
	for {
		counts, err := jobs.Counts(ctx)
		require.NoError(b, err)
		if len(counts.Queues) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	require.NoError(b, <-worked)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
}
