package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opa-stack/opa-go/internal/testenv"
)

// postgresDB creates a database on the server OPA_TEST_POSTGRES_URL names
// (river/ci-postgres.sh starts one), drops it after the test, and returns
// its URL. Without the variable the test is skipped, or fails when CI=true.
func postgresDB(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("OPA_TEST_POSTGRES_URL")
	if admin == "" {
		testenv.Missing(t, "Postgres (OPA_TEST_POSTGRES_URL is not set)",
			"start a throwaway server with: pg_env=$(bash river/ci-postgres.sh) && eval \"$pg_env\"")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to OPA_TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("opa_e2e_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// getHTML gets path as a browser would (River UI serves its page only to
// a request that accepts HTML).
func getHTML(t *testing.T, base, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{Timeout: procDeadline}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestRiverUI: with RIVER_UI=1 the host serves River UI at /riverui of its
// private listener over
// its job queue, on SQLite and on Postgres: the page, and its API listing
// the job the host queued for a note (no worker runs, so it waits). The
// report shows the same job in the queue's counts. Without RIVER_UI there
// is no /riverui.
func TestRiverUI(t *testing.T) {
	for _, db := range []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string {
			// The queue on a database of its own: the notes' job is
			// queued after the note commits (see the notes plugin).
			return []string{"OPA_OPTIONAL_COMPONENTS__JOBS__OPTS__DATABASE=", "OPA_OPTIONAL_COMPONENTS__JOBS__OPTS__URL=" + postgresDB(t)}
		}},
	} {
		t.Run(db.name, func(t *testing.T) {
			h := startHost(t, t.TempDir(), hostEnv(t, append(db.env(t), "RIVER_UI=1")...))
			if code, body := h.do("POST", "/notes", "buy milk"); code != http.StatusCreated {
				t.Fatalf("POST /notes: %d %s", code, body)
			}

			code, page := getHTML(t, h.admin, "/riverui/")
			if code != http.StatusOK || !strings.Contains(page, "<title>River</title>") {
				t.Errorf("GET /riverui/: %d, not River UI's page:\n%.500s", code, page)
			}
			code, body := h.doAt(h.admin, "GET", "/riverui/api/jobs?state=available", "")
			var list struct {
				Data []struct {
					Kind  string `json:"kind"`
					Queue string `json:"queue"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
				t.Fatalf("GET /riverui/api/jobs: %d %v\n%s\nhost stderr:\n%s", code, err, body, h.stderr)
			}
			if len(list.Data) != 1 || list.Data[0].Kind != "notes.count_words" {
				t.Errorf("River UI lists %+v, want the one job notes.count_words", list.Data)
			}

			var status any
			for _, c := range h.report().Components {
				if c.Name == "jobs" {
					status = c.Status
				}
			}
			want := map[string]any{"default": map[string]any{"available": 1.0}}
			if m, _ := status.(map[string]any); m == nil || fmt.Sprint(m["queues"]) != fmt.Sprint(want) {
				t.Errorf("the report's jobs status is %v, want queues %v", status, want)
			}
			h.stop()
			if log := h.stderr.String(); !strings.Contains(log, "River UI is served; it has no auth of its own") {
				t.Errorf("the host's log does not warn that River UI has no auth:\n%s", log)
			}
		})
	}
	t.Run("off by default", func(t *testing.T) {
		h := startHost(t, t.TempDir(), hostEnv(t))
		if code, _ := getHTML(t, h.admin, "/riverui/"); code != http.StatusNotFound {
			t.Errorf("GET /riverui/ without RIVER_UI: %d, want 404", code)
		}
	})
}
