package river

import (
	"context"
	"errors"
	"fmt"
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
	c       client               // the working client, once started (under Jobs.mu)
}

// WorkOptions are River's extension points for the client that works the
// jobs (WorkWith): each is given to River's Config as it is. The zero value
// adds none.
type WorkOptions struct {
	// Middleware are River's Config.Middleware, around each job's work
	// (rivertype.WorkerMiddleware), e.g. rivercontrib/otelriver's.
	Middleware []rivertype.Middleware
	// Hooks are River's Config.Hooks (rivertype.HookWorkBegin,
	// HookWorkEnd, ...).
	Hooks []rivertype.Hook
	// ErrorHandler is River's Config.ErrorHandler, called after a job's
	// error or panic (not a cancel or snooze), before the driver logs a
	// discard (the log says whether the handler cancelled the job).
	ErrorHandler rq.ErrorHandler
	// JobStuckHandler is River's Config.JobStuckHandler, called when a job
	// outlives its timeout and does not return.
	JobStuckHandler rq.JobStuckHandler
}

// Work is WorkWith with no options: it runs jobs until ctx ends, then stops
// within OPTS.stop_timeout and returns nil once stopped. A worker process
// calls it after opa.StartupSimple, with a context that SIGTERM cancels:
//
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
//	defer stop()
//	err := jobs.Work(ctx)
func (j *Jobs) Work(ctx context.Context) error { return j.WorkWith(ctx, WorkOptions{}) }

// WorkWith runs jobs with River's extension points o until ctx ends, then
// stops, and returns nil once stopped.
//
// It fetches only jobs of the kinds this process has tasks for (Kinds); jobs
// of other kinds stay in the queue for a worker that has their plugin. A task
// that returns an error (or panics) is retried as River retries: after 1s,
// 16s, 81s, ... (attempt⁴ seconds), up to the job's max attempts.
//
// Stopping (ctx ends, or Close), it fetches no more jobs, puts back unrun
// any job fetched after the stop began, and lets the running ones finish
// for three quarters of OPTS.stop_timeout (River's SoftStopTimeout); then
// River cancels their contexts, and a task that returns its context's error
// is put back in the queue, its attempt not counted, for another worker.
// Work returns by OPTS.stop_timeout (or Close's deadline, if sooner), with
// an error if a task still runs.
//
// Whether this worker takes part in River's leader election follows
// OPTS.leader and OPTS.partial; see the package doc.
//
// WorkWith is an error wrapping opa.ErrState if the component is closed or
// already working, and an error if no loaded plugin declares a task.
func (j *Jobs) WorkWith(ctx context.Context, o WorkOptions) error {
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
	c, err := j.startClient(ctx, o)
	if err != nil {
		r.err = err
		return err
	}
	j.mu.Lock()
	r.c = c
	j.mu.Unlock()
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watched := make(chan struct{})
	go func() { defer close(watched); j.watch(watchCtx, c) }()
	defer func() {
		stopWatch()
		<-watched
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if j.fleetErr == nil {
			if err := j.eng.leave(lctx, c.ID()); err != nil {
				j.log.Warn("river: removing this worker from the table of working processes", "error", err)
			}
		}
	}()

	stopCtx := context.Background()
	select {
	case <-ctx.Done():
	case stopCtx = <-r.stopReq:
	case <-c.Stopped():
		r.err = errors.New("river: the River client stopped by itself")
		return r.err
	}
	r.err = j.stop(stopCtx, c)
	return r.err
}

// reserveWork makes sure Work runs once at a time, on an open, connected
// component. It holds the lock only for these checks: the client's start
// runs without it, so Enqueue never waits.
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
	j.stopBy = time.Time{}
	j.stopping.Store(false)
	return j.run, nil
}

// softStop is River's SoftStopTimeout: three quarters of OPTS.stop_timeout
// for running jobs to finish, the rest for the cancelled ones to return
// and be recorded.
func (j *Jobs) softStop() time.Duration { return j.set.stopTimeout * 3 / 4 }

// startClient makes and starts a working client, and records its kinds in
// the table of working processes. Close waits for it to stop (see live)
// before it closes the database.
func (j *Jobs) startClient(ctx context.Context, o WorkOptions) (client, error) {
	leader, why := j.leaderDecision()
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
	cfg.SoftStopTimeout = j.softStop()
	cfg.Middleware, cfg.Hooks, cfg.JobStuckHandler = o.Middleware, o.Hooks, o.JobStuckHandler
	cfg.ErrorHandler = &errorHandler{j: j, next: o.ErrorHandler}
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
	j.beat(ctx, c)
	if leader {
		j.log.Info("river: working", "queues", j.queues, "kinds", j.kinds, "leader_election", true, "why", why)
	} else {
		j.log.Warn("river: working, without taking part in leader election: at least one worker with OPTS.leader auto (not partial) or yes must run, or retries, scheduled and periodic jobs, stuck-job rescue and cleanup wait",
			"queues", j.queues, "kinds", j.kinds, "leader_election", false, "why", why)
	}
	return c, nil
}

// leaderDecision says whether a worker takes part in leader election, and
// why: by declaration, never by a guess from the jobs stored. River's
// leader discards a stuck job of a kind it has no worker for, so a worker
// that lacks some of the fleet's task plugins says so (OPTS.partial) and
// stays out under leader: auto, as River advises for FetchOnlyKnownKinds.
func (j *Jobs) leaderDecision() (bool, string) {
	switch {
	case j.set.leader == "yes":
		return true, "OPTS.leader is yes"
	case j.set.leader == "no":
		return false, "OPTS.leader is no"
	case j.set.partial:
		return false, "OPTS.partial is true: this worker lacks some of the fleet's task plugins"
	}
	return true, "OPTS.leader is auto and OPTS.partial is false"
}

// beat records c's kinds in the table of working processes.
func (j *Jobs) beat(ctx context.Context, c client) {
	if j.fleetErr != nil {
		return
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fleetBeat)
	defer cancel()
	if err := j.eng.heartbeat(bctx, c.ID(), j.kinds); err != nil && ctx.Err() == nil {
		j.log.Warn("river: recording this worker in the table of working processes", "error", err)
	}
}

// watch renews c's row in the table of working processes every fleetBeat,
// checks every alarm/4 that some client leads, logs an error when none has
// for OPTS.leader_alarm (and again once one does), and, while c leads, logs
// orphan jobs (checkOrphans).
func (j *Jobs) watch(ctx context.Context, c client) {
	every := max(min(j.set.leaderAlarm, j.set.orphanAlarm)/4, 250*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	beat := time.NewTicker(fleetBeat)
	defer beat.Stop()
	lastSeen, alarmed := time.Now(), false
	orphans := &orphanWatch{since: map[string]time.Time{}, logged: map[string]bool{}}
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			j.beat(ctx, c)
			continue
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
			if id == c.ID() && j.fleetErr == nil {
				j.checkOrphans(ctx, orphans)
			}
		case !alarmed && time.Since(lastSeen) >= j.set.leaderAlarm:
			alarmed = true
			j.log.Error("river: no leader: retries later than 5s, scheduled and periodic jobs, stuck-job rescue and cleanup are waiting; run a worker with OPTS.leader auto and not OPTS.partial, or leader yes",
				"without_leader_for", j.set.leaderAlarm.String())
		}
	}
}

// stop stops c within OPTS.stop_timeout, or ctx's deadline if sooner: no
// more fetching (a job fetched after this is put back unrun, see
// taskWorker.Work), running jobs get River's SoftStopTimeout to finish,
// then River cancels their contexts and Stop waits for them to return.
// When ctx's deadline comes before River's soft stop would, the jobs'
// contexts are cancelled here, at three quarters of the time left.
func (j *Jobs) stop(ctx context.Context, c client) error {
	j.stopping.Store(true)
	start := time.Now()
	by := start.Add(j.set.stopTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(by) {
		by = dl
	}
	j.mu.Lock()
	j.stopBy = by
	j.mu.Unlock()
	sctx, cancel := context.WithDeadline(ctx, by)
	defer cancel()
	if start.Add(j.softStop()).Before(by) {
		if err := c.Stop(sctx); err != nil {
			return fmt.Errorf("river: stop: jobs still running %s after the stop began, their contexts cancelled at %s (OPTS.stop_timeout; River rescues them after OPTS.rescue_after): %w",
				j.set.stopTimeout, j.softStop(), err)
		}
		return nil
	}
	early, cancelEarly := context.WithDeadline(ctx, start.Add(by.Sub(start)*3/4))
	err := c.Stop(early)
	cancelEarly()
	if err == nil {
		return nil
	}
	j.log.Warn("river: jobs still running as the stop's deadline nears: cancelling them; a task that returns its context's error goes back to the queue", "deadline", by)
	if err := c.StopAndCancel(sctx); err != nil {
		return fmt.Errorf("river: stop: jobs still running after their contexts were cancelled (River rescues them after OPTS.rescue_after): %w", err)
	}
	return nil
}

// Subscribe subscribes to River's events (rq.EventKindJobCompleted, ...) of
// the client that works jobs in this process: River's SubscribeConfig. It
// is an error wrapping opa.ErrState when no Work runs (River's own client
// would panic). The channel gets no more events once that Work stops;
// call the func to unsubscribe.
func (j *Jobs) Subscribe(config *rq.SubscribeConfig) (<-chan *rq.Event, func(), error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.run == nil || j.run.c == nil {
		return nil, nil, fmt.Errorf("%w: river: Subscribe: no Work is running in this process (subscribe once Work has started; see Working)", opa.ErrState)
	}
	events, cancel := j.run.c.SubscribeConfig(config)
	return events, cancel, nil
}

// Working returns River's client that works jobs in this process, a
// *river.Client[*sql.Tx] on SQLite or a *river.Client[pgx.Tx] on Postgres,
// or an error wrapping opa.ErrState when no Work runs. Do not stop it:
// Work does.
func (j *Jobs) Working() (any, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.run == nil || j.run.c == nil {
		return nil, fmt.Errorf("%w: river: Working: no Work is running in this process", opa.ErrState)
	}
	return j.run.c, nil
}

// errorHandler logs a job's last failed attempt (its discard) at ERROR,
// with its plugin, kind, attempts and error, and passes every error on to
// the host's handler (WorkOptions.ErrorHandler).
type errorHandler struct {
	j    *Jobs
	next rq.ErrorHandler
}

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *rq.ErrorHandlerResult {
	var res *rq.ErrorHandlerResult
	if h.next != nil {
		res = h.next.HandleError(ctx, job, err)
	}
	h.discarded(job, res, err)
	return res
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *rq.ErrorHandlerResult {
	var res *rq.ErrorHandlerResult
	if h.next != nil {
		res = h.next.HandlePanic(ctx, job, panicVal, trace)
	}
	h.discarded(job, res, fmt.Errorf("%v", panicVal)) // the value names the plugin and kind (taskWorker.Work)
	return res
}

// discarded logs the discard of a job whose last attempt failed (unless
// the host's handler cancels it instead).
func (h *errorHandler) discarded(job *rivertype.JobRow, res *rq.ErrorHandlerResult, err error) {
	if job.Attempt < job.MaxAttempts || res != nil && res.SetCancelled {
		return
	}
	h.j.log.Error("river: job discarded: its last attempt failed", "plugin", h.j.taskPlugin(job.Kind), "kind", job.Kind,
		"job_id", job.ID, "attempts", job.Attempt, "error", err)
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
	// A stop that began (SIGTERM) bounds the wait for its jobs too: the
	// process exits by OPTS.stop_timeout after it.
	j.mu.Lock()
	by := j.stopBy
	j.mu.Unlock()
	if !by.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, by)
		defer cancel()
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
	case <-stopped: // first: the deadline may be over already
		j.eng.close()
		return err
	default:
	}
	select {
	case <-stopped:
		j.eng.close()
	case <-ctx.Done():
		go func() { <-stopped; j.eng.close() }()
		err = errors.Join(err, fmt.Errorf("river: close: jobs still running (their tasks ignore their context); the database is closed when they return: %w", ctx.Err()))
	}
	return err
}
