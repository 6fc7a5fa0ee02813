// Package main is the "notes" example plugin, a directory plugin
// (notes/plugin.so beside notes/meta.json). It keeps notes in the optional
// component "db", a *sql.DB that the sqlitedriver plugin builds, so the notes
// are still there after the host restarts:
//
//	POST /notes  the request body is the note's text; answers the note as JSON
//	GET  /notes  every note, oldest first, as a JSON list
//
// It imports database/sql only, not the SQLite driver: the settings choose
// the database.
package main

import (
	"database/sql"
	"encoding/json"
	"errors"
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

// Plugin is what the host looks up.
var Plugin = opa.Plugin{Router: router()}

// note is one note, as the routes show it.
type note struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
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
	db, ok := database(w, req)
	if !ok {
		return
	}
	res, err := db.ExecContext(req.Context(), "INSERT INTO notes (text) VALUES (?)", text)
	if err != nil {
		fail(w, "saving the note", err)
		return
	}
	id, err := res.LastInsertId()
	if err != nil {
		fail(w, "saving the note", err)
		return
	}
	writeJSON(w, http.StatusCreated, note{ID: id, Text: text})
}

func list(w http.ResponseWriter, req *http.Request) {
	db, ok := database(w, req)
	if !ok {
		return
	}
	rows, err := db.QueryContext(req.Context(), "SELECT id, text FROM notes ORDER BY id")
	if err != nil {
		fail(w, "listing the notes", err)
		return
	}
	defer rows.Close()
	notes := []note{} // an empty list is [], not null
	for rows.Next() {
		var n note
		if err := rows.Scan(&n.ID, &n.Text); err != nil {
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

// database returns the db component's *sql.DB with the notes table in it,
// or answers the request with an error and returns false.
func database(w http.ResponseWriter, req *http.Request) (*sql.DB, bool) {
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
	if err := schema.ensure(req.Context(), db); err != nil {
		fail(w, "creating the notes table", err)
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
