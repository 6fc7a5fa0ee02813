package river

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opa-stack/opa-go"
	rq "github.com/riverqueue/river"
)

// taskArgs are a job's args as River stores them: raw JSON, handed to the
// task's Run as they are. Its kind is only set on the value a worker is
// registered with; River takes a job's kind from its row.
type taskArgs struct {
	kind string
	raw  json.RawMessage
}

func (a taskArgs) Kind() string { return a.kind }

func (a taskArgs) MarshalJSON() ([]byte, error) {
	if len(a.raw) == 0 {
		return []byte("{}"), nil
	}
	return a.raw, nil
}

func (a *taskArgs) UnmarshalJSON(b []byte) error {
	a.raw = append(json.RawMessage(nil), b...)
	return nil
}

// taskWorker runs one opa.Task as a River worker. An error (or a panic) from
// the task is retried as River retries, up to the job's max attempts. Args
// that do not decode or validate (opa.ErrTaskArgs) and opa.CancelTask cancel
// the job at once; opa.SnoozeTask runs it again later without spending an
// attempt (see outcome).
type taskWorker struct {
	rq.WorkerDefaults[taskArgs]
	task opa.Task
}

func (w *taskWorker) Work(ctx context.Context, job *rq.Job[taskArgs]) error {
	return outcome(job.ID, w.task.Run(ctx, job.Args.raw))
}

// outcome turns a task's error into what River is to do with the job.
func outcome(id int64, err error) error {
	if err == nil {
		return nil
	}
	if snooze, ok := errors.AsType[*opa.TaskSnoozeError](err); ok {
		return rq.JobSnooze(max(snooze.After, 0))
	}
	if errors.Is(err, opa.ErrTaskArgs) {
		return rq.JobCancel(fmt.Errorf("river: job %d cancelled, not retried: its args are bad: %w", id, err))
	}
	if _, ok := errors.AsType[*opa.TaskCancelError](err); ok {
		return rq.JobCancel(fmt.Errorf("river: job %d cancelled by its task: %w", id, err))
	}
	return err
}

// validate calls args' Validate method, if it has one: typed args (or any
// args an Enqueue is given) may check themselves before they are stored.
func validate(kind string, args any) error {
	v, ok := args.(interface{ Validate() error })
	if !ok {
		return nil
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("river: enqueue %s: invalid args: %w", kind, err)
	}
	return nil
}

// buildWorkers registers every task as a River worker and returns the kinds.
// opa has already refused two plugins declaring one kind.
func buildWorkers(tasks []opa.Task) (workers *rq.Workers, kinds []string, err error) {
	defer func() {
		if v := recover(); v != nil { // AddWorkerArgs panics on a duplicate kind
			workers, kinds, err = nil, nil, fmt.Errorf("river: registering tasks: %v", v)
		}
	}()
	workers = rq.NewWorkers()
	for _, t := range tasks {
		if t.Kind == "" || t.Run == nil {
			return nil, nil, fmt.Errorf("river: task %q has no kind or no Run func", t.Kind)
		}
		rq.AddWorkerArgs(workers, taskArgs{kind: t.Kind}, &taskWorker{task: t})
		kinds = append(kinds, t.Kind)
	}
	return workers, kinds, nil
}
