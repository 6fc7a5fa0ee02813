package river

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
)

// running is one Work in progress.
type running struct {
	client  client
	stopReq chan context.Context // Close asks Work to stop, with its own deadline
	done    chan struct{}        // closed when Work has stopped
	err     error                // the stop's error, set before done closes
}

// Work runs jobs until ctx ends, then stops gracefully, and returns nil once
// stopped. A worker process calls it after opa.StartupSimple, with a context
// that SIGTERM cancels:
//
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
//	defer stop()
//	err := jobs.Work(ctx)
//
// It fetches only jobs of the kinds this process has tasks for (Kinds); jobs
// of other kinds stay in the queue for a worker that has their plugin. A task
// that returns an error (or panics) is retried as River retries: after 1s,
// 16s, 81s, ... (attempt⁴ seconds), up to the job's max attempts.
//
// Stopping, Work fetches no more jobs and lets the running ones finish for
// up to OPTS.stop_timeout; then it cancels their contexts, and a task that
// returns its context's error is put back in the queue, its attempt not
// counted, for another worker. Close (opa.Shutdown) stops Work the same way
// within its own deadline.
//
// Whether this worker takes part in River's leader election (the leader
// schedules retries and scheduled jobs, rescues stuck jobs and cleans up)
// follows OPTS.leader; see the package doc.
//
// Work is an error wrapping opa.ErrState if the component is closed or
// already working, and an error if no loaded plugin declares a task.
func (j *Jobs) Work(ctx context.Context) error {
	r, err := j.startWork(ctx)
	if err != nil {
		return err
	}
	defer func() {
		j.mu.Lock()
		j.run = nil
		j.mu.Unlock()
		close(r.done)
	}()
	var stopCtx context.Context
	select {
	case <-ctx.Done():
		c, cancel := context.WithTimeout(context.Background(), 2*j.set.stopTimeout)
		defer cancel()
		stopCtx = c
	case stopCtx = <-r.stopReq:
	case <-r.client.Stopped():
		r.err = errors.New("river: the River client stopped by itself")
		return r.err
	}
	r.err = j.stop(stopCtx, r.client)
	return r.err
}

// startWork makes and starts a working client, once at a time.
func (j *Jobs) startWork(ctx context.Context) (*running, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.closed:
		return nil, fmt.Errorf("%w: river: Work: the component is closed", opa.ErrState)
	case j.eng == nil:
		return nil, fmt.Errorf("%w: river: Work: the component is not connected", opa.ErrState)
	case j.run != nil:
		return nil, fmt.Errorf("%w: river: Work is already running", opa.ErrState)
	case len(j.kinds) == 0:
		return nil, errors.New("river: Work: no loaded plugin declares a task, so there is nothing to work")
	}
	leader, why := j.leaderDecision(ctx)
	cfg := j.baseConfig()
	cfg.Workers = j.workers
	cfg.Queues = map[string]rq.QueueConfig{}
	for q, n := range j.set.queues {
		cfg.Queues[q] = rq.QueueConfig{MaxWorkers: n}
	}
	cfg.FetchOnlyKnownKinds = true
	cfg.LeaderElectionDisabled = !leader
	c, err := j.eng.newClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("river: %w", err)
	}
	// Work stops the client itself (see stop), so Start's context is not
	// cancelled with ctx: that would cancel the running jobs at once.
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("river: start working: %w", err)
	}
	if leader {
		j.log.Info("river: working", "queues", j.set.queues, "kinds", j.kinds, "leader_election", true, "why", why)
	} else {
		j.log.Warn("river: working, without taking part in leader election: at least one worker that has every task plugin (or OPTS.leader: yes) must run, or retries, scheduled jobs, stuck-job rescue and cleanup wait",
			"queues", j.set.queues, "kinds", j.kinds, "leader_election", false, "why", why)
	}
	j.run = &running{client: c, stopReq: make(chan context.Context, 1), done: make(chan struct{})}
	return j.run, nil
}

// leaderDecision says whether a worker takes part in leader election, and
// why. River's leader discards a stuck job of a kind it has no worker for,
// so with LEADER=auto a worker that may lack some plugin stays out.
func (j *Jobs) leaderDecision(ctx context.Context) (bool, string) {
	switch j.set.leader {
	case "yes":
		return true, "OPTS.leader is yes"
	case "no":
		return false, "OPTS.leader is no"
	}
	if j.m != nil {
		if missing := missingPlugins(j.m.Report()); len(missing) > 0 {
			return false, "plugins found but not loaded: " + strings.Join(missing, ", ")
		}
	}
	foreign, err := j.eng.foreignKinds(ctx, j.kinds, 5)
	if err != nil {
		return false, err.Error()
	}
	if len(foreign) > 0 {
		return false, "the queue holds jobs of kinds no loaded plugin declares: " + strings.Join(foreign, ", ")
	}
	return true, "every plugin found is loaded, and every job kind in the queue has a task"
}

// missingPlugins names the plugins found but not loaded under any path (a
// shadowed plugin whose name did load is not missing).
func missingPlugins(rep opa.Report) []string {
	loaded := map[string]bool{}
	for _, p := range rep.Plugins {
		loaded[p.Name] = loaded[p.Name] || p.Loaded
	}
	var out []string
	for _, p := range rep.Plugins {
		if !loaded[p.Name] && !slices.Contains(out, p.Name) {
			out = append(out, p.Name)
		}
	}
	return out
}

// stop stops c: no more fetching, running jobs get up to stop_timeout (or
// three quarters of what is left of ctx) to finish, then their contexts are
// cancelled and, until ctx ends, Stop waits for them to return.
func (j *Jobs) stop(ctx context.Context, c client) error {
	soft := j.set.stopTimeout
	if dl, ok := ctx.Deadline(); ok {
		soft = min(soft, time.Until(dl)*3/4)
	}
	sctx, cancel := context.WithTimeout(ctx, soft)
	err := c.Stop(sctx)
	cancel()
	if err == nil {
		return nil
	}
	j.log.Warn("river: jobs still running at the stop timeout: cancelling them; a task that returns its context's error goes back to the queue", "stop_timeout", soft)
	if err := c.StopAndCancel(ctx); err != nil {
		return fmt.Errorf("river: stop: jobs still running after their contexts were cancelled (River rescues them after RescueStuckJobsAfter): %w", err)
	}
	return nil
}

// close stops a running Work within ctx's deadline and closes the database.
func (j *Jobs) close(ctx context.Context) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	r := j.run
	j.mu.Unlock()
	var err error
	if r != nil {
		r.stopReq <- ctx
		select {
		case <-r.done:
			err = r.err
		case <-ctx.Done():
			err = fmt.Errorf("river: close: Work did not stop in time: %w", ctx.Err())
		}
	}
	if j.eng != nil {
		j.eng.close()
	}
	return err
}
