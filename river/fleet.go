package river

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// A working client records the kinds it runs in the database (see
// fleetTable) every fleetBeat, and removes its row when it stops; a row not
// renewed for fleetTTL (its process died) no longer counts.
const (
	fleetBeat = 5 * time.Second
	fleetTTL  = 4 * fleetBeat
)

// waiting are the states of jobs that wait for a worker to run them.
var waiting = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateScheduled, rivertype.JobStateRetryable}

// JobCounts are the unfinished jobs of a queue's database (Counts).
type JobCounts struct {
	// Queues are the unfinished jobs (available, pending, scheduled,
	// retryable, running) by queue and state: Queues["mail"]["available"].
	// States without jobs are left out.
	Queues map[string]map[string]int `json:"queues"`
	// Orphans are the jobs waiting to run, by kind, of the kinds that no
	// running worker has a task for (see Orphans); nil when that cannot be
	// told (the driver's table of working processes is missing).
	Orphans map[string]int `json:"orphans,omitempty"`
}

// Orphans returns the jobs waiting to run (available, pending, scheduled,
// retryable), by kind, of the kinds that no running worker has a task for:
// a kind whose plugin was removed from the fleet, or a typo. They wait for
// ever; an operator runs a worker with their plugin, or cancels or deletes
// them (CancelOrphans, DeleteOrphans). A worker that started within the
// last few seconds may not be seen yet, and one that died is seen for up
// to 20s.
func (j *Jobs) Orphans(ctx context.Context) (map[string]int, error) {
	if _, err := j.client(); err != nil {
		return nil, err
	}
	if j.fleetErr != nil {
		return nil, fmt.Errorf("river: orphans: the table of working processes (%s) cannot be read: %w", fleetTable, j.fleetErr)
	}
	kinds, err := j.eng.waitingKinds(ctx)
	if err != nil {
		return nil, fmt.Errorf("river: orphans: counting waiting jobs by kind: %w", err)
	}
	fleet, err := j.eng.fleetKinds(ctx, time.Now().Add(-fleetTTL))
	if err != nil {
		return nil, fmt.Errorf("river: orphans: reading the working processes' kinds: %w", err)
	}
	for k := range kinds {
		if fleet[k] {
			delete(kinds, k)
		}
	}
	return kinds, nil
}

// orphanKinds are the kinds of Orphans that this process has no task for
// either: those CancelOrphans and DeleteOrphans act on.
func (j *Jobs) orphanKinds(ctx context.Context) ([]string, error) {
	orphans, err := j.Orphans(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range j.kinds {
		delete(orphans, k)
	}
	return slices.Sorted(maps.Keys(orphans)), nil
}

// CancelOrphans cancels the jobs of Orphans (River's JobCancel), except
// those of kinds this process has a task for, and returns how many it
// cancelled. Cancelled jobs stay in the database, with their args, until
// River's cleaner deletes them (after 24h); Retry brings one back.
func (j *Jobs) CancelOrphans(ctx context.Context) (int, error) {
	kinds, ins, err := j.orphanClient(ctx)
	if err != nil || len(kinds) == 0 {
		return 0, err
	}
	n := 0
	for {
		res, err := ins.JobList(ctx, rq.NewJobListParams().Kinds(kinds...).States(waiting...).First(100))
		if err != nil {
			return n, fmt.Errorf("river: cancel orphans (%s): %w", strings.Join(kinds, ", "), err)
		}
		if len(res.Jobs) == 0 {
			return n, nil
		}
		for _, row := range res.Jobs {
			if _, err := ins.JobCancel(ctx, row.ID); err != nil {
				return n, fmt.Errorf("river: cancel orphan job %d (%s): %w", row.ID, row.Kind, err)
			}
			n++
		}
	}
}

// orphanClient returns the kinds of Orphans that this process has no task
// for and, when there are any, the client to act on their jobs with.
func (j *Jobs) orphanClient(ctx context.Context) ([]string, client, error) {
	kinds, err := j.orphanKinds(ctx)
	if err != nil || len(kinds) == 0 {
		return nil, nil, err
	}
	ins, err := j.client()
	if err != nil {
		return nil, nil, err
	}
	return kinds, ins, nil
}

// DeleteOrphans deletes the jobs of Orphans (River's JobDeleteMany),
// except those of kinds this process has a task for, and returns how many
// it deleted. They are gone, args and all.
func (j *Jobs) DeleteOrphans(ctx context.Context) (int, error) {
	kinds, ins, err := j.orphanClient(ctx)
	if err != nil || len(kinds) == 0 {
		return 0, err
	}
	n := 0
	for {
		res, err := ins.JobDeleteMany(ctx, rq.NewJobDeleteManyParams().Kinds(kinds...).States(waiting...).First(1000))
		if err != nil {
			return n, fmt.Errorf("river: delete orphans (%s): %w", strings.Join(kinds, ", "), err)
		}
		if len(res.Jobs) == 0 {
			return n, nil
		}
		n += len(res.Jobs)
	}
}

// orphanWatch remembers since when each kind has been an orphan, and which
// the leader has logged.
type orphanWatch struct {
	since  map[string]time.Time
	logged map[string]bool
}

// checkOrphans logs an error naming the kinds that have been orphans for
// OPTS.orphan_alarm, once per kind until it is no orphan any more.
func (j *Jobs) checkOrphans(ctx context.Context, w *orphanWatch) {
	orphans, err := j.Orphans(ctx)
	if err != nil {
		if ctx.Err() == nil {
			j.log.Warn("river: looking for orphan jobs", "error", err)
		}
		return
	}
	now := time.Now()
	for k := range w.since {
		if _, ok := orphans[k]; !ok {
			delete(w.since, k)
			delete(w.logged, k)
		}
	}
	var due []string
	for k := range orphans {
		if _, ok := w.since[k]; !ok {
			w.since[k] = now
		}
		if !w.logged[k] && now.Sub(w.since[k]) >= j.set.orphanAlarm {
			due = append(due, k)
		}
	}
	if len(due) == 0 {
		return
	}
	slices.Sort(due)
	jobs := map[string]int{}
	for _, k := range due {
		w.logged[k] = true
		jobs[k] = orphans[k]
	}
	j.log.Error("river: jobs wait for a task that no running worker has: run a worker with their plugin, or cancel or delete them (Jobs.CancelOrphans, Jobs.DeleteOrphans; the example worker's -orphans cancel|delete)",
		"kinds", strings.Join(due, ","), "jobs", jobs, "waiting_for", j.set.orphanAlarm.String())
}
