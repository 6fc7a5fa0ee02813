// Package main is the "notes" example plugin, a directory plugin
// (notes/plugin.so beside notes/meta.json). It keeps notes in the optional
// component "db", a *sql.DB that the sqlitedriver plugin builds, so the notes
// are still there after the host restarts:
//
//	POST /notes  the request body is the note's text; answers the note as JSON
//	GET  /notes  every note, oldest first, as a JSON list
//
// Each new note's words are counted in the background: POST /notes queues a
// job of the plugin's task "notes.count_words" through the host's hook
// "enqueue_tx", in the transaction that stores the note, so that the note
// and its job are stored together or not at all (the job queue shares the
// database). A worker process that loaded this plugin too runs the task,
// which stores the count. Until then a note's "words" is null.
//
// It imports database/sql only, not the SQLite driver: the settings choose
// the database. Nor does it import the job queue: it declares its task with
// opa.NewTask and queues jobs through a hook, so the queue is the host's
// choice as well.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

// component is the name of the database component in OPTIONAL_COMPONENTS.
const component = "db"

// maxNote bounds the size of one note, in bytes.
const maxNote = 64 << 10

// Plugin is what the host (and the worker) looks up.
var Plugin = opa.Plugin{
	Router: router(),
	// A Setup runs in the host only (a worker starts without a router, and
	// without setups), before the host serves: the host makes the table
	// before any request, hence before any job, can need it.
	Setups: []opa.Setup{migrate},
	Tasks:  []opa.Task{opa.NewTask(countWordsKind, countWords).With(opa.TaskMaxAttempts(5))},
}

// note is one note, as the routes show it.
type note struct {
	ID    int64  `json:"id"`
	Text  string `json:"text"`
	Words *int64 `json:"words"` // null until a worker has counted them
}

func router() chi.Router {
	r := opa.GetRouter()
	r.Post("/notes", create)
	r.Get("/notes", list)
	return r
}

func create(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxNote))
	if err != nil {
		http.Error(w, "a note holds at most 64 KiB", http.StatusRequestEntityTooLarge)
		return
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		http.Error(w, "the request body is the note's text, and it is empty", http.StatusBadRequest)
		return
	}
	db, ok := database(w)
	if !ok {
		return
	}
	id, err := save(req.Context(), db, text)
	if err != nil {
		fail(w, "saving the note", err)
		return
	}
	writeJSON(w, http.StatusCreated, note{ID: id, Text: text})
}

// save stores a note and queues the count of its words in one transaction:
// both are stored, or neither is. Without a queue (no "enqueue_tx" hook, or
// the jobs component unavailable) the note is stored uncounted, and the log
// says why. A queue on a database of its own cannot join the transaction,
// and a host may have only the "enqueue" hook: then the job is queued once
// the note is stored, and a crash in between leaves the note uncounted.
func save(ctx context.Context, db *sql.DB, text string) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() // after Commit, a no-op
	res, err := tx.ExecContext(ctx, "INSERT INTO notes (text) VALUES (?)", text)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	err = queueCount(ctx, tx, id)
	// No "enqueue_tx" hook, or a queue that cannot join tx: queue the job
	// once the note is committed.
	after := errors.Is(err, errors.ErrUnsupported) || errors.Is(err, opa.ErrNotFound)
	switch {
	case after:
	case errors.Is(err, opa.ErrUnavailable):
		notQueued(id, err)
	case err != nil:
		return 0, fmt.Errorf("queueing the count of its words: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	if after {
		// The note is saved: queue the count even if the client has gone.
		if err := queueCountAfter(context.WithoutCancel(ctx), id); err != nil {
			notQueued(id, err)
		}
	}
	return id, nil
}

// notQueued logs that note id is saved without a queued count of its words.
func notQueued(id int64, err error) {
	slog.Warn("notes: the note is saved, but counting its words could not be queued", "note", id, "error", err)
}

func list(w http.ResponseWriter, req *http.Request) {
	db, ok := database(w)
	if !ok {
		return
	}
	rows, err := db.QueryContext(req.Context(), "SELECT id, text, words FROM notes ORDER BY id")
	if err != nil {
		fail(w, "listing the notes", err)
		return
	}
	defer rows.Close()
	notes := []note{} // an empty list is [], not null
	for rows.Next() {
		var n note
		if err := rows.Scan(&n.ID, &n.Text, &n.Words); err != nil {
			fail(w, "listing the notes", err)
			return
		}
		notes = append(notes, n)
	}
	if err := rows.Err(); err != nil {
		fail(w, "listing the notes", err)
		return
	}
	writeJSON(w, http.StatusOK, notes)
}

// database returns the db component's *sql.DB, or answers the request with
// an error and returns false.
func database(w http.ResponseWriter) (*sql.DB, bool) {
	db, err := opa.Instance[*sql.DB](component)
	if errors.Is(err, opa.ErrUnavailable) {
		slog.Warn("notes: no database", "error", err)
		http.Error(w, "the notes need the db component, and it is unavailable (see /opa/report)", http.StatusServiceUnavailable)
		return nil, false
	}
	if err != nil {
		fail(w, "finding the database", err)
		return nil, false
	}
	return db, true
}

// fail logs err and answers 500 without showing it.
func fail(w http.ResponseWriter, doing string, err error) {
	slog.Error("notes: "+doing, "error", err)
	http.Error(w, "notes: "+doing+" failed (see the host's log)", http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {}
