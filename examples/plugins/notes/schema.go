package main

import (
	"context"
	"database/sql"
	"sync"
)

// schema creates the notes table once per database, on first use.
//
// It is not a Setup: a Setup runs inside opa.Startup, before the
// package-level opa.Instance can see the components, so the table is made
// by the first request instead (and again after a failure).
var schema schemaOnce

type schemaOnce struct {
	mu   sync.Mutex
	done *sql.DB // the database the table was made in
}

const createNotes = `CREATE TABLE IF NOT EXISTS notes (
	id   INTEGER PRIMARY KEY AUTOINCREMENT,
	text TEXT NOT NULL
)`

func (s *schemaOnce) ensure(ctx context.Context, db *sql.DB) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == db {
		return nil
	}
	if _, err := db.ExecContext(ctx, createNotes); err != nil {
		return err
	}
	s.done = db
	return nil
}
