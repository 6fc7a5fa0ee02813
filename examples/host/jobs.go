package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
)

// jobsComponent is the job queue's name in OPTIONAL_COMPONENTS (DRIVER: river).
const jobsComponent = "jobs"

// dataComponent is the plugins' database component, whose transactions
// "enqueue_tx" joins when the queue shares its database (OPTS.database).
const dataComponent = "db"

// EnqueueFunc is the type of the hook "enqueue": it adds a background job of
// kind, whose task some plugin declares (opa.NewTask), with JSON-able args.
// A worker process with that plugin runs it.
//
// The hook is how plugins reach the queue without importing River: a plugin
// asks for opa.HookFunc[func(context.Context, string, any) error]("enqueue"),
// a type of its own spelling (func types are identical by their shape), and
// the host decides what queues the job.
type EnqueueFunc = func(ctx context.Context, kind string, args any) error

// EnqueueTxFunc is the type of the hook "enqueue_tx": "enqueue" inside the
// caller's transaction tx, so that the job is stored if and only if tx
// commits, with the rows the caller wrote in it. tx is a transaction on the
// database that the jobs component shares (OPTS.database: db): a *sql.Tx of
// the db component's *sql.DB on SQLite (a pgx.Tx on Postgres, hence any). A
// plugin asks for
// opa.HookFunc[func(context.Context, any, string, any) error]("enqueue_tx").
// An error wrapping opa.ErrUnavailable means there is no queue (LOAD=no, or
// not reachable); one wrapping errors.ErrUnsupported means the queue does
// not share the db component's database, and the caller queues with
// "enqueue" after it commits; any other means the job was not stored, and the caller rolls
// back.
type EnqueueTxFunc = func(ctx context.Context, tx any, kind string, args any) error

// enqueuePlugin is compiled into the host (opa.WithPlugin). It defines the
// hooks and provides them, so that they are there whichever plugins load; a
// host without it simply has no "enqueue" hooks, and the plugins say so.
var enqueuePlugin = opa.Plugin{
	HookDefinitions: []opa.HookDefinition{
		{Name: "enqueue", Func: EnqueueFunc(nil)},
		{Name: "enqueue_tx", Func: EnqueueTxFunc(nil)},
	},
	Hooks: []opa.Hook{
		{Name: "enqueue", Func: EnqueueFunc(enqueue)},
		{Name: "enqueue_tx", Func: EnqueueTxFunc(enqueueTx)},
	},
}

// enqueue queues a job on the jobs component, with River's defaults (see
// OPTS in the settings). It is called from requests, after Startup, so the
// package-level opa.Instance finds the component.
func enqueue(ctx context.Context, kind string, args any) error {
	jobs, err := opa.Instance[*river.Jobs](jobsComponent)
	if err != nil {
		return err // wraps opa.ErrUnavailable if the queue is not there
	}
	_, err = jobs.Enqueue(ctx, kind, args, nil)
	return err
}

// enqueueTx queues a job in the caller's transaction (River's InsertTx).
// A queue that does not share the db component's database (OPTS.url, e.g.
// Postgres for workers on other machines) cannot join a transaction on it:
// that is an error wrapping errors.ErrUnsupported, and the caller queues
// the job with "enqueue" once its transaction has committed.
func enqueueTx(ctx context.Context, tx any, kind string, args any) error {
	jobs, err := opa.Instance[*river.Jobs](jobsComponent)
	if err != nil {
		return err // wraps opa.ErrUnavailable if the queue is not there
	}
	if shared := jobs.SharedDatabase(); shared != dataComponent {
		return fmt.Errorf("component %s does not share the database of component %s (its OPTS.database is %q), so a job cannot join a transaction on it; set OPTS.database: %s: %w",
			jobsComponent, dataComponent, shared, dataComponent, errors.ErrUnsupported)
	}
	_, err = jobs.EnqueueTx(ctx, tx, kind, args, nil)
	return err
}
