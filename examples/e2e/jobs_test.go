package e2e

import (
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ownQueue are the settings that give the job queue a SQLite file of its
// own, jobs.db, for tests that turn off db, whose database it shares in the
// example settings.
var ownQueue = [2]string{"OPA_OPTIONAL_COMPONENTS__JOBS__OPTS__DATABASE=", "OPA_OPTIONAL_COMPONENTS__JOBS__OPTS__URL=jobs.db"}

// countDeadline bounds the wait for a worker to count a note's words. A
// worker looks for jobs every second; the rest is slack for a loaded
// machine and the race detector.
const countDeadline = 60 * time.Second

// waitForNotes polls GET /notes until it answers want, or fails the test
// at countDeadline.
func waitForNotes(t *testing.T, h *proc, want string) {
	t.Helper()
	deadline := time.Now().Add(countDeadline)
	for {
		code, got := h.get("/notes")
		if code == http.StatusOK && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /notes after %s: %d %q, want %q\nhost stderr:\n%s", countDeadline, code, got, want, h.stderr)
		}
		// The host has no event for "a note was counted": poll, bounded
		// by countDeadline.
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWorkerCountsWords is the round trip of the README: the host queues a
// job as it saves a note, a worker on the same data directory runs it, and
// the note shows its count.
func TestWorkerCountsWords(t *testing.T) {
	data := t.TempDir()
	h := startHost(t, data, hostEnv(t))
	w := startWorker(t, data, hostEnv(t))
	if got := strings.TrimSpace(strings.TrimPrefix(w.stdout.String(), workerReady)); got != "[notes.count_words]" {
		t.Errorf("the worker runs %s, want [notes.count_words]", got)
	}

	expect(t, h, "POST", "/notes", "buy milk", http.StatusCreated, `{"id":1,"text":"buy milk","words":null}`+"\n")
	waitForNotes(t, h, `[{"id":1,"text":"buy milk","words":2}]`+"\n")
	expect(t, h, "POST", "/notes", "  call Ada\ttoday  ", http.StatusCreated, `{"id":2,"text":"call Ada\ttoday","words":null}`+"\n")
	waitForNotes(t, h, `[{"id":1,"text":"buy milk","words":2},{"id":2,"text":"call Ada\ttoday","words":3}]`+"\n")

	w.stop()
	h.stop()
	if !strings.Contains(w.stderr.String(), "notes: words counted note=2 words=3") {
		t.Errorf("the worker's log does not show the count of note 2:\n%s", w.stderr)
	}
	if !strings.Contains(w.stderr.String(), "opa: component closed component=jobs") {
		t.Errorf("the worker did not close the job queue at SIGTERM:\n%s", w.stderr)
	}
}

// TestNoteWaitsForAWorker: a note saved while no worker runs stays
// uncounted, its job kept in the queue (a SQLite file in the data
// directory) even across a restart of the host, until a worker starts. The
// proof that the host ran no job is the worker's log: a job runs once, and
// the worker, started after the host stopped, is the one that ran it.
func TestNoteWaitsForAWorker(t *testing.T) {
	data := t.TempDir()
	h := startHost(t, data, hostEnv(t))
	expect(t, h, "POST", "/notes", "buy milk", http.StatusCreated, `{"id":1,"text":"buy milk","words":null}`+"\n")
	expect(t, h, "GET", "/notes", "", http.StatusOK, `[{"id":1,"text":"buy milk","words":null}]`+"\n")
	h.stop()
	if log := h.stderr.String(); strings.Contains(log, "words counted") {
		t.Fatalf("the host ran the job itself:\n%s", log)
	}

	w := startWorker(t, data, hostEnv(t))
	h = startHost(t, data, hostEnv(t))
	waitForNotes(t, h, `[{"id":1,"text":"buy milk","words":2}]`+"\n")
	h.stop()
	w.stop()
	if log := w.stderr.String(); !strings.Contains(log, "notes: words counted note=1 words=2") {
		t.Errorf("the worker, started after the host stopped, did not run the job the host queued:\n%s", log)
	}
	if log := h.stderr.String(); strings.Contains(log, "words counted") {
		t.Errorf("the restarted host ran the job itself:\n%s", log)
	}
}

// TestNotesWithoutJobQueue: with the queue turned off, the host has no way
// to queue the count; notes are still saved, uncounted, and the log says
// why.
func TestNotesWithoutJobQueue(t *testing.T) {
	h := startHost(t, t.TempDir(), hostEnv(t, "OPA_OPTIONAL_COMPONENTS__JOBS__LOAD=no"))
	expect(t, h, "POST", "/notes", "buy milk", http.StatusCreated, `{"id":1,"text":"buy milk","words":null}`+"\n")
	expect(t, h, "GET", "/notes", "", http.StatusOK, `[{"id":1,"text":"buy milk","words":null}]`+"\n")
	h.stop()
	if log := h.stderr.String(); !strings.Contains(log, "notes: the note is saved, but counting its words could not be queued") ||
		!strings.Contains(log, "component jobs is disabled (LOAD=no)") {
		t.Errorf("the host's log does not say why the words are not counted:\n%s", log)
	}
}

// TestNoteAndItsJobInOneTransaction: the job queue shares notes.db (OPTS.database:
// db), and POST /notes stores the note and its job in one transaction: one
// note, exactly one job, in one file. When queueing fails (a trigger makes
// SQLite refuse the job), the note is not stored either. A worker then
// counts the stored note's words, and takes part in leader election with
// the settings' leader: auto.
func TestNoteAndItsJobInOneTransaction(t *testing.T) {
	data := t.TempDir()
	h := startHost(t, data, hostEnv(t))
	expect(t, h, "POST", "/notes", "buy milk", http.StatusCreated, `{"id":1,"text":"buy milk","words":null}`+"\n")

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "notes.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	jobs := func() []string {
		t.Helper()
		rows, err := db.Query("SELECT kind || ' ' || json(args) FROM river_job ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := strings.Join(jobs(), "; "); got != `notes.count_words {"note":1}` {
		t.Errorf("jobs in notes.db: %s, want exactly one: notes.count_words {\"note\":1}", got)
	}
	for _, f := range []string{"jobs.db", "jobs-production.db"} {
		if _, err := os.Stat(filepath.Join(data, f)); err == nil {
			t.Errorf("the host made %s: the queue should be in notes.db", f)
		}
	}

	if _, err := db.Exec("CREATE TRIGGER refuse_jobs BEFORE INSERT ON river_job BEGIN SELECT RAISE(ABORT, 'no job today'); END"); err != nil {
		t.Fatal(err)
	}
	expect(t, h, "POST", "/notes", "call Ada", http.StatusInternalServerError, "notes: saving the note failed (see the host's log)\n")
	expect(t, h, "GET", "/notes", "", http.StatusOK, `[{"id":1,"text":"buy milk","words":null}]`+"\n")
	if got := len(jobs()); got != 1 {
		t.Errorf("%d jobs after the refused one, want 1", got)
	}
	if _, err := db.Exec("DROP TRIGGER refuse_jobs"); err != nil {
		t.Fatal(err)
	}

	w := startWorker(t, data, hostEnv(t))
	waitForNotes(t, h, `[{"id":1,"text":"buy milk","words":2}]`+"\n")
	w.stop()
	h.stop()
	if log := h.stderr.String(); !strings.Contains(log, "no job today") {
		t.Errorf("the host's log does not say why the second note was not saved:\n%s", log)
	}
	// The settings leave leader at auto: a worker with the notes task is
	// River's leader candidate, fullname_formal being left out or not.
	if log := w.stderr.String(); !strings.Contains(log, "river: working") || !strings.Contains(log, "leader_election=true") {
		t.Errorf("the worker does not take part in leader election:\n%s", log)
	}
}
