package river

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// running is one Work in progress.
type running struct {
	stopReq chan context.Context // Close asks Work to stop, with its own deadline
	done    chan struct{}        // closed when Work has returned
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
	r, err := j.reserveWork()
	if err != nil {
		return err
	}
	defer func() {
		j.mu.Lock()
		j.run = nil
		j.mu.Unlock()
		close(r.done)
	}()
	c, err := j.startClient(ctx)
	if err != nil {
		r.err = err
		return err
	}
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	go j.watchLeader(watchCtx)

	var stopCtx context.Context
	select {
	case <-ctx.Done():
		c, cancel := context.WithTimeout(context.Background(), 2*j.set.stopTimeout)
		defer cancel()
		stopCtx = c
	case stopCtx = <-r.stopReq:
	case <-c.Stopped():
		r.err = errors.New("river: the River client stopped by itself")
		return r.err
	}
	r.err = j.stop(stopCtx, c)
	return r.err
}

// reserveWork makes sure Work runs once at a time, on an open, connected
// component. It holds the lock only for these checks: the leader decision's
// query and the client's start run without it, so Enqueue never waits.
func (j *Jobs) reserveWork() (*running, error) {
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
	j.run = &running{stopReq: make(chan context.Context, 1), done: make(chan struct{})}
	return j.run, nil
}

// startClient makes and starts a working client. Close waits for it to
// stop (see live) before it closes the database.
func (j *Jobs) startClient(ctx context.Context) (client, error) {
	// Not cancelled with ctx: a SIGTERM while starting still starts, then
	// stops cleanly.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	leader, why, err := j.leaderDecision(dctx)
	if err != nil {
		return nil, err
	}
	cfg := j.baseConfig()
	cfg.Workers = j.workers
	cfg.Queues = map[string]rq.QueueConfig{}
	for q, n := range j.queues {
		cfg.Queues[q] = rq.QueueConfig{MaxWorkers: n}
	}
	cfg.FetchOnlyKnownKinds = true
	cfg.SkipUnknownJobCheck = true // a periodic kind may be another worker's task
	cfg.LeaderElectionDisabled = !leader
	if leader {
		cfg.PeriodicJobs = j.periodic
	}
	c, err := j.eng.newClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("river: %w", err)
	}
	// Work stops the client itself (see stop), so Start's context is not
	// cancelled with ctx: that would cancel the running jobs at once.
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("river: start working: %w", err)
	}
	j.live.Add(1)
	go func() { <-c.Stopped(); j.live.Done() }()
	if leader {
		j.log.Info("river: working", "queues", j.queues, "kinds", j.kinds, "leader_election", true, "why", why)
	} else {
		j.log.Warn("river: working, without taking part in leader election: at least one worker that has every task plugin (or OPTS.leader: yes) must run, or retries, scheduled jobs, stuck-job rescue and cleanup wait",
			"queues", j.queues, "kinds", j.kinds, "leader_election", false, "why", why)
	}
	return c, nil
}

// unfinished are the states of jobs that are not done with.
var unfinished = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateRunning}

// leaderDecision says whether a worker takes part in leader election, and
// why. River's leader discards a stuck job of a kind it has no worker for,
// so with LEADER=auto a worker stays out when the queues it works hold
// unfinished jobs that some worker has already attempted (a worker that
// has their task runs in the fleet) of a kind this worker lacks. A job of a
// kind no worker has (a typo, another app's job) is never attempted here,
// and keeps nobody out.
func (j *Jobs) leaderDecision(ctx context.Context) (bool, string, error) {
	switch j.set.leader {
	case "yes":
		return true, "OPTS.leader is yes", nil
	case "no":
		return false, "OPTS.leader is no", nil
	}
	foreign, err := j.foreignKinds(ctx, 5)
	if err != nil {
		return false, "", err
	}
	if len(foreign) > 0 {
		return false, "the queues hold unfinished jobs, already attempted by another worker, of kinds no loaded plugin declares: " + strings.Join(foreign, ", "), nil
	}
	return true, "no unfinished job that another worker has attempted is of a kind without a task here", nil
}

// foreignKinds lists up to max kinds of unfinished, attempted jobs in the
// worked queues that no loaded plugin declares, one query per kind found.
func (j *Jobs) foreignKinds(ctx context.Context, max int) ([]string, error) {
	ins, err := j.client()
	if err != nil {
		return nil, err
	}
	var found []string
	for len(found) < max {
		p := rq.NewJobListParams().Queues(slices.Sorted(maps.Keys(j.queues))...).States(unfinished...).
			Where("attempt > 0").First(1)
		for i, k := range append(slices.Clone(j.kinds), found...) {
			name := fmt.Sprintf("k%d", i)
			p = p.Where("kind <> @"+name, rq.NamedArgs{name: k})
		}
		res, err := ins.JobList(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("river: looking for job kinds without a task: %w", err)
		}
		if len(res.Jobs) == 0 {
			break
		}
		found = append(found, res.Jobs[0].Kind)
	}
	return found, nil
}

// watchLeader checks every leader_alarm/4 that some client leads, and logs
// an error when none has for OPTS.leader_alarm (and again once one does).
func (j *Jobs) watchLeader(ctx context.Context) {
	every := max(j.set.leaderAlarm/4, 250*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	lastSeen, alarmed := time.Now(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		id, err := j.eng.electedLeader(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			j.log.Warn("river: checking for a leader", "error", err)
		case id != "":
			lastSeen = time.Now()
			if alarmed {
				alarmed = false
				j.log.Info("river: a leader is elected again", "leader", id)
			}
		case !alarmed && time.Since(lastSeen) >= j.set.leaderAlarm:
			alarmed = true
			j.log.Error("river: no leader: retries later than 5s, scheduled and periodic jobs, stuck-job rescue and cleanup are waiting; run a worker that has every task plugin with OPTS.leader auto or yes",
				"without_leader_for", j.set.leaderAlarm.String())
		}
	}
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

// close stops a running Work within ctx's deadline and closes the database
// once every River client it started has stopped: riversqlite must not see
// its database closed under a running client. If a job still runs at the
// deadline (a task that ignores its context), close returns an error and
// the database is closed when the job returns.
func (j *Jobs) close(ctx context.Context) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	r := j.run
	j.mu.Unlock()
	// Answer a little before the deadline, so the caller hears why.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-time.Until(dl)/10))
		defer cancel()
	}
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
	if j.eng == nil {
		return err
	}
	stopped := make(chan struct{})
	go func() {
		if r != nil {
			<-r.done
		}
		j.live.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		j.eng.close()
	case <-ctx.Done():
		go func() { <-stopped; j.eng.close() }()
		err = errors.Join(err, fmt.Errorf("river: close: jobs still running (their tasks ignore their context); the database is closed when they return: %w", ctx.Err()))
	}
	return err
}
