package river

import (
	"context"
	"errors"
	"fmt"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// JobListParams filter, order and page a List: River's
// river.JobListParams. Start from NewJobListParams.
type JobListParams = rq.JobListParams

// JobListResult is a page of List: Jobs, and LastCursor for the next page
// (params.After(result.LastCursor)).
type JobListResult = rq.JobListResult

// NewJobListParams are the defaults of List: the first 100 jobs by ID, in
// any state, queue and kind; narrow them with States, Queues, Kinds, First,
// After, OrderBy.
func NewJobListParams() *JobListParams { return rq.NewJobListParams() }

// List returns the stored jobs params selects (nil: NewJobListParams()).
func (j *Jobs) List(ctx context.Context, params *JobListParams) (*JobListResult, error) {
	ins, err := j.client()
	if err != nil {
		return nil, err
	}
	if params == nil {
		params = NewJobListParams()
	}
	res, err := ins.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("river: list jobs: %w", err)
	}
	return res, nil
}

// Cancel cancels a job: one that waits (available, scheduled, retryable) is
// cancelled at once and never runs; a running one is marked, and its
// worker cancels the task's context when it hears of it (a notification on
// Postgres, a poll every 2s on SQLite), so a task that returns its
// context's error ends cancelled; a finished job is left as it is.
// It returns the job as stored; an unknown ID wraps opa.ErrNotFound.
func (j *Jobs) Cancel(ctx context.Context, id int64) (*JobRow, error) {
	return j.act(ctx, id, "cancel", client.JobCancel)
}

// Retry makes a job available to run again now, whatever its state
// (discarded, cancelled, completed, retryable or scheduled), with one more
// attempt allowed if it had used them all; a running job is left as it is.
// An unknown ID wraps opa.ErrNotFound.
func (j *Jobs) Retry(ctx context.Context, id int64) (*JobRow, error) {
	return j.act(ctx, id, "retry", client.JobRetry)
}

func (j *Jobs) act(ctx context.Context, id int64, what string, fn func(client, context.Context, int64) (*JobRow, error)) (*JobRow, error) {
	ins, err := j.client()
	if err != nil {
		return nil, err
	}
	row, err := fn(ins, ctx, id)
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil, fmt.Errorf("%w: river: %s job %d", opa.ErrNotFound, what, id)
	}
	if err != nil {
		return nil, fmt.Errorf("river: %s job %d: %w", what, id, err)
	}
	return row, nil
}

// Counts returns the unfinished jobs (available, pending, scheduled,
// retryable, running) by queue and state, and the orphans among them (see
// Orphans; nil, and a warning logged, when they cannot be told). Finished
// jobs (completed, cancelled, discarded) are not counted: River keeps them
// for a day or a week, and counting them would read them all, where the
// states counted use River's fetch index.
func (j *Jobs) Counts(ctx context.Context) (*JobCounts, error) {
	if _, err := j.client(); err != nil {
		return nil, err
	}
	queues, err := j.eng.counts(ctx)
	if err != nil {
		return nil, fmt.Errorf("river: count jobs: %w", err)
	}
	out := &JobCounts{Queues: queues}
	if j.fleetErr == nil {
		if out.Orphans, err = j.Orphans(ctx); err != nil {
			// The counts stand without them (the report and the metrics
			// keep the queues); the orphans are unknown this time.
			out.Orphans = nil
			j.log.Warn("river: counting jobs: the orphans cannot be told", "error", err)
		}
	}
	return out, nil
}

// RiverClient returns River's own client of the queue, for tools built on
// it such as River UI (riverui.NewEndpoints): a *river.Client[*sql.Tx] on
// SQLite, a *river.Client[pgx.Tx] on Postgres. It is the client Enqueue
// inserts with; it is never started, so it works no jobs (its Subscribe
// panics: use Jobs.Subscribe, or Working for the client that works), and
// it stops working (its database closed) when the component closes. Jobs
// inserted through it skip Enqueue's checks.
func (j *Jobs) RiverClient() (any, error) {
	return j.client()
}

// Status is what the report shows of the queue (opa.StatusReporter):
// "queues", the unfinished jobs by queue and state, "orphans", the jobs
// waiting by kind of the kinds no running worker has (Counts; left out
// when there are none), and "leader", the ID of River's elected leader, or
// "none" when no client is in office (then no process schedules retries,
// runs periodic tasks or rescues stuck jobs).
func (c *component) Status(ctx context.Context) (any, error) {
	counts, err := c.jobs.Counts(ctx)
	if err != nil {
		return nil, err
	}
	leader, err := c.jobs.eng.electedLeader(ctx)
	if err != nil {
		return nil, err
	}
	if leader == "" {
		leader = "none"
	}
	out := map[string]any{"queues": counts.Queues, "leader": leader}
	if len(counts.Orphans) > 0 {
		out["orphans"] = counts.Orphans
	}
	return out, nil
}
