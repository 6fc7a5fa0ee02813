package river

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockingClient is a client whose JobList (the leader decision's query)
// waits until released.
type blockingClient struct {
	client
	listing chan struct{} // closed when JobList is entered
	release chan struct{}
}

func (c *blockingClient) JobList(ctx context.Context, _ *rq.JobListParams) (*rq.JobListResult, error) {
	close(c.listing)
	<-c.release
	return &rq.JobListResult{}, nil
}

func (c *blockingClient) Insert(context.Context, rq.JobArgs, *rq.InsertOpts) (*rivertype.JobInsertResult, error) {
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{ID: 1}}, nil
}

// fakeEngine refuses to make working clients.
type fakeEngine struct{ engine }

func (fakeEngine) newClient(*rq.Config) (client, error) { return nil, errors.New("fake engine") }

// While Work's leader decision queries the database, Enqueue goes on: the
// query runs without the lock Enqueue needs.
func TestLeaderDecisionDoesNotBlockEnqueue(t *testing.T) {
	set, err := parseOptions(map[string]any{"url": "jobs.db"})
	require.NoError(t, err)
	ins := &blockingClient{listing: make(chan struct{}), release: make(chan struct{})}
	j := &Jobs{set: set, log: slog.Default(), eng: fakeEngine{}, ins: ins, workers: rq.NewWorkers(), kinds: []string{"test.a"}, queues: set.queues}

	worked := make(chan error, 1)
	go func() { worked <- j.Work(context.Background()) }()
	select {
	case <-ins.listing:
	case <-time.After(10 * time.Second):
		t.Fatal("Work did not start its leader decision's query within 10s")
	}
	enqueued := make(chan error, 1)
	go func() {
		_, err := j.Enqueue(context.Background(), "test.a", nil, nil)
		enqueued <- err
	}()
	select {
	case err := <-enqueued:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Enqueue did not return within 10s while the leader decision's query ran")
	}
	close(ins.release)
	select {
	case err := <-worked:
		assert.ErrorContains(t, err, "fake engine")
	case <-time.After(10 * time.Second):
		t.Fatal("Work did not return within 10s of the query's end")
	}
}
