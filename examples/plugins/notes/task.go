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

// enqueueFunc is the type of the host's hook "enqueue" (see the example
// host's jobs.go): func types are identical by their shape, so the plugin
// spells it without importing the host or the queue.
type enqueueFunc = func(ctx context.Context, kind string, args any) error

// queueCount queues the count of note id's words. The note is saved already,
// so a failure here does not fail the request: the note stays uncounted
// (words null), and the host's log says why.
func queueCount(ctx context.Context, id int64) {
	enqueue, err := opa.HookFunc[enqueueFunc]("enqueue")
	if err == nil {
		err = enqueue(ctx, countWordsKind, countArgs{Note: id})
	}
	if err != nil {
		slog.Warn("notes: the note is saved, but counting its words could not be queued", "note", id, "error", err)
	}
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
