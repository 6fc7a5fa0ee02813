package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

const createNotes = `CREATE TABLE IF NOT EXISTS notes (
	id    INTEGER PRIMARY KEY AUTOINCREMENT,
	text  TEXT NOT NULL,
	words INTEGER -- NULL until a worker has counted them
)`

// migrate is the plugin's Setup: it makes the notes table, or adds the words
// column to a table made by an older version of the plugin. A Setup runs
// inside Startup, before the package-level opa.Instance sees the components,
// so it finds the database through the Manager that runs it.
func migrate(ctx context.Context, _ chi.Router) error {
	db, err := opa.InstanceOf[*sql.DB](opa.ManagerFrom(ctx), component)
	if errors.Is(err, opa.ErrUnavailable) {
		return nil // the routes answer 503
	}
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, createNotes); err != nil {
		return fmt.Errorf("creating the notes table: %w", err)
	}
	has, err := hasWords(ctx, db)
	if err != nil || has {
		return err
	}
	if _, err := db.ExecContext(ctx, "ALTER TABLE notes ADD COLUMN words INTEGER"); err != nil {
		// Another host may have added it meanwhile.
		if has, _ := hasWords(ctx, db); has {
			return nil
		}
		return fmt.Errorf("adding the words column: %w", err)
	}
	return nil
}

// hasWords reports whether the notes table has the words column.
func hasWords(ctx context.Context, db *sql.DB) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM pragma_table_info('notes') WHERE name = 'words'").Scan(&n)
	if err != nil {
		return false, fmt.Errorf("reading the notes table's columns: %w", err)
	}
	return n > 0, nil
}
