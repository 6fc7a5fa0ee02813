package e2e

import (
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opa-stack/opa-go"
	_ "modernc.org/sqlite" // to make a notes.db as an earlier version did
)

// pluginReport returns the named plugin's entry of rep.
func pluginReport(t *testing.T, rep opa.Report, name string) opa.PluginReport {
	t.Helper()
	for _, p := range rep.Plugins {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("plugin %s is not in the report: %+v", name, rep.Plugins)
	return opa.PluginReport{}
}

// componentReport returns the named component's entry of rep.
func componentReport(t *testing.T, rep opa.Report, name string) opa.ComponentReport {
	t.Helper()
	for _, c := range rep.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("component %s is not in the report: %+v", name, rep.Components)
	return opa.ComponentReport{}
}

// hookWinner returns the plugin whose hook won name, and its Order.
func hookWinner(t *testing.T, rep opa.Report, name string) (string, int) {
	t.Helper()
	for _, h := range rep.Hooks {
		if h.Name == name {
			return h.Plugin, h.Order
		}
	}
	t.Fatalf("hook %s is not in the report: %+v", name, rep.Hooks)
	return "", 0
}

// expect checks a request's status and body.
func expect(t *testing.T, h *proc, method, path, body string, wantCode int, wantBody string) {
	t.Helper()
	code, got := h.do(method, path, body)
	if code != wantCode || got != wantBody {
		t.Errorf("%s %s: got %d %q, want %d %q", method, path, code, got, wantCode, wantBody)
	}
}

func TestDefaultSettings(t *testing.T) {
	h := startHost(t, t.TempDir(), hostEnv(t))

	expect(t, h, "GET", "/hello", "", http.StatusOK, "Hello from a plugin\n")
	expect(t, h, "GET", "/get-fullname/ada/lovelace", "", http.StatusOK, "Hello ada lovelace\n")

	rep := h.report()
	for _, name := range []string{"hello", "greeter", "fullname", "sqlitedriver", "notes", "redisdriver", "counter", "river", "enqueue"} {
		if p := pluginReport(t, rep, name); !p.Loaded {
			t.Errorf("plugin %s did not load: %s", name, p.Reason)
		}
	}
	if p := pluginReport(t, rep, "hello"); strings.Join(p.Tags, ",") != "demo,web" {
		t.Errorf("hello's tags (from hello-meta.json) = %v, want [demo web]", p.Tags)
	}
	if p := pluginReport(t, rep, "fullname_formal"); p.Loaded || !strings.Contains(p.Reason, "PLUGIN_BLACKLIST_TAGS") {
		t.Errorf("fullname_formal: loaded=%v reason=%q, want it left out by PLUGIN_BLACKLIST_TAGS", p.Loaded, p.Reason)
	}
	if plugin, order := hookWinner(t, rep, "fullname"); plugin != "fullname" || order != 1 {
		t.Errorf("hook fullname won by %s (order %d), want fullname (order 1)", plugin, order)
	}
	for _, name := range []string{"db", "jobs"} {
		if c := componentReport(t, rep, name); c.State != opa.StateConnected || c.Load != "yes" {
			t.Errorf("component %s: %+v, want connected with LOAD=yes", name, c)
		}
	}
	if plugin, _ := hookWinner(t, rep, "enqueue"); plugin != "enqueue" {
		t.Errorf("hook enqueue won by %s, want the host's compiled-in enqueue", plugin)
	}
	// The host prints a request to try for every route served.
	for _, try := range []string{"curl BASE/hello", "curl BASE/get-fullname/ada/lovelace", "curl -d 'buy milk' BASE/notes",
		"curl BASE/notes", "curl 'BASE/counter?key=visits'", "curl ADMIN/opa/report"} {
		if try = strings.NewReplacer("BASE", h.base, "ADMIN", h.admin).Replace(try); !strings.Contains(h.stdout.String(), "  "+try+"\n") {
			t.Errorf("the host did not print %q:\n%s", try, h.stdout)
		}
	}
	h.stop()
}

func TestFormalFullnameWinsWhenLoaded(t *testing.T) {
	h := startHost(t, t.TempDir(), hostEnv(t, "OPA_PLUGIN_BLACKLIST_TAGS=[]"))

	expect(t, h, "GET", "/get-fullname/ada/lovelace", "", http.StatusOK, "Hello Lovelace, Ada\n")
	if plugin, order := hookWinner(t, h.report(), "fullname"); plugin != "fullname_formal" || order != 2 {
		t.Errorf("hook fullname won by %s (order %d), want fullname_formal (order 2)", plugin, order)
	}
	h.stop()
}

func TestNotesPersistAcrossRestart(t *testing.T) {
	data := t.TempDir()
	h := startHost(t, data, hostEnv(t))
	expect(t, h, "GET", "/notes", "", http.StatusOK, "[]\n")
	expect(t, h, "POST", "/notes", "buy milk", http.StatusCreated, `{"id":1,"text":"buy milk","words":null}`+"\n")
	expect(t, h, "POST", "/notes", "call Ada\n", http.StatusCreated, `{"id":2,"text":"call Ada","words":null}`+"\n")
	expect(t, h, "POST", "/notes", "  ", http.StatusBadRequest, "the request body is the note's text, and it is empty\n")
	h.stop()
	// The graceful shutdown closed the database through opa.Shutdown.
	if !strings.Contains(h.stderr.String(), "opa: component closed component=db") {
		t.Errorf("no 'component closed' for db in the host's log:\n%s", h.stderr)
	}

	h = startHost(t, data, hostEnv(t))
	// No worker ran: the words are not counted (see jobs_test.go).
	expect(t, h, "GET", "/notes", "", http.StatusOK, `[{"id":1,"text":"buy milk","words":null},{"id":2,"text":"call Ada","words":null}]`+"\n")
	expect(t, h, "POST", "/notes", "third", http.StatusCreated, `{"id":3,"text":"third","words":null}`+"\n")
	h.stop()
}

func TestProductionEnvironment(t *testing.T) {
	data := t.TempDir()
	h := startHost(t, data, hostEnv(t, "ENV=production"))

	// [demo, dynaconf_merge] was appended to default's [formal]: hello
	// (tagged demo) is out, and fullname_formal is still out.
	rep := h.report()
	if p := pluginReport(t, rep, "hello"); p.Loaded {
		t.Error("hello loaded in production, want it left out by its tag demo")
	}
	expect(t, h, "GET", "/hello", "", http.StatusNotFound, "404 page not found\n")
	if strings.Contains(h.stdout.String(), "  curl "+h.base+"/hello\n") {
		t.Errorf("the host offers /hello, which no plugin serves:\n%s", h.stdout)
	}
	expect(t, h, "GET", "/get-fullname/ada/lovelace", "", http.StatusOK, "Hello ada lovelace\n")

	// The merged OPTIONAL_COMPONENTS kept redis and db's and jobs' drivers,
	// and changed db's file only.
	if c := componentReport(t, rep, "redis"); c.Driver != "redis" || c.Load != "auto" {
		t.Errorf("component redis in production: %+v, want driver redis, LOAD=auto (kept from default)", c)
	}
	expect(t, h, "POST", "/notes", "in production", http.StatusCreated, `{"id":1,"text":"in production","words":null}`+"\n")
	h.stop()
	// The jobs share db's database: production's file.
	if _, err := os.Stat(filepath.Join(data, "notes-production.db")); err != nil {
		t.Errorf("production's database file: %v", err)
	}
	for _, other := range []string{"notes.db", "jobs.db", "jobs-production.db"} {
		if _, err := os.Stat(filepath.Join(data, other)); err == nil {
			t.Errorf("production wrote %s, want notes-production.db only", other)
		}
	}
}

// TestNotesTableFromBefore: a notes.db made before the words column (by an
// earlier version of the example) gets the column at the host's start, its
// old notes uncounted (null), and the round trip works on it.
func TestNotesTableFromBefore(t *testing.T) {
	data := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(data, "notes.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL)",
		"INSERT INTO notes (text) VALUES ('from before')",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	h := startHost(t, data, hostEnv(t))
	startWorker(t, data, hostEnv(t))
	expect(t, h, "GET", "/notes", "", http.StatusOK, `[{"id":1,"text":"from before","words":null}]`+"\n")
	expect(t, h, "POST", "/notes", "buy milk", http.StatusCreated, `{"id":2,"text":"buy milk","words":null}`+"\n")
	waitForNotes(t, h, `[{"id":1,"text":"from before","words":null},{"id":2,"text":"buy milk","words":2}]`+"\n")
	h.stop()
}
