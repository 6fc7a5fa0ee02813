package main

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"

	"github.com/opa-stack/opa-go"
)

// countWordsKind is the kind of the plugin's task: unique across plugins,
// hence the plugin's name in front.
const countWordsKind = "notes.count_words"

// countArgs are the task's args, stored in the queue as JSON.
type countArgs struct {
	Note int64 `json:"note"` // the note's id
}

// enqueueTxFunc is the type of the host's hook "enqueue_tx" (see the
// example host's jobs.go): func types are identical by their shape, so the
// plugin spells it without importing the host or the queue. tx is the
// transaction the job is stored in, a *sql.Tx here.
type enqueueTxFunc = func(ctx context.Context, tx any, kind string, args any) error

// queueCount queues the count of note id's words in tx, the transaction
// that stores the note. An error wrapping opa.ErrNotFound (no such hook) or
// errors.ErrUnsupported (the queue cannot join tx) means: queue it once tx
// has committed; opa.ErrUnavailable (no queue) means the words cannot be
// counted here; any other means the job could not be stored, and tx must
// not commit.
func queueCount(ctx context.Context, tx *sql.Tx, id int64) error {
	enqueue, err := opa.HookFunc[enqueueTxFunc]("enqueue_tx")
	if err != nil {
		return err
	}
	return enqueue(ctx, tx, countWordsKind, countArgs{Note: id})
}

// enqueueFunc is the type of the host's hook "enqueue": a job on its own,
// outside any transaction.
type enqueueFunc = func(ctx context.Context, kind string, args any) error

// queueCountAfter queues the count of note id's words after the note was
// committed, for a queue that cannot join the note's transaction (one with
// a database of its own).
func queueCountAfter(ctx context.Context, id int64) error {
	enqueue, err := opa.HookFunc[enqueueFunc]("enqueue")
	if err != nil {
		return err
	}
	return enqueue(ctx, countWordsKind, countArgs{Note: id})
}

// countWords is the task: it counts the words of a note and stores the
// count. It runs in a worker process, where the plugin is loaded as in the
// host and finds the same database as the component "db". An error is
// retried by the queue; running it twice stores the same count.
func countWords(ctx context.Context, a countArgs) error {
	db, err := opa.Instance[*sql.DB](component)
	if err != nil {
		return err
	}
	var text string
	err = db.QueryRowContext(ctx, "SELECT text FROM notes WHERE id = ?", a.Note).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		// Not an error: retrying would not bring the note back.
		slog.Warn("notes: no such note: nothing to count (is the worker on the host's database?)", "note", a.Note)
		return nil
	}
	if err != nil {
		return err
	}
	words := len(strings.Fields(text))
	if _, err := db.ExecContext(ctx, "UPDATE notes SET words = ? WHERE id = ?", words, a.Note); err != nil {
		return err
	}
	slog.Info("notes: words counted", "note", a.Note, "words", words)
	return nil
}
