package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

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
