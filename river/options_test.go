package river

import (
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseOptions(t *testing.T) {
	defaults := settings{url: "jobs.db", queue: "default", workers: 10, leader: "auto", stopTimeout: 10 * time.Second}
	tests := []struct {
		name string
		opts opa.Options
		want func(*settings)
		err  string
	}{
		{name: "defaults", opts: opa.Options{"url": "jobs.db"}},
		{name: "all set, as YAML gives them", opts: opa.Options{
			"url": "postgres://u:p@h/db", "queue": "mail", "workers": 3, "leader": false, "max_attempts": 5,
			"job_timeout": "30s", "stop_timeout": "1m", "poll_interval": "250ms",
		}, want: func(s *settings) {
			*s = settings{url: "postgres://u:p@h/db", queue: "mail", workers: 3, leader: "no", maxAttempts: 5,
				jobTimeout: 30 * time.Second, stopTimeout: time.Minute, pollInterval: 250 * time.Millisecond}
		}},
		{name: "numbers as env strings", opts: opa.Options{"url": "x.db", "workers": "4", "leader": "YES"},
			want: func(s *settings) { s.url, s.workers, s.leader = "x.db", 4, "yes" }},
		{name: "float from JSON", opts: opa.Options{"url": "jobs.db", "workers": 2.0}, want: func(s *settings) { s.workers = 2 }},
		{name: "url required", opts: opa.Options{}, err: "OPTS.url is required"},
		{name: "unknown key", opts: opa.Options{"url": "jobs.db", "worker": 3}, err: `unknown OPTS key "worker"; known keys: job_timeout, leader,`},
		{name: "bad workers", opts: opa.Options{"url": "jobs.db", "workers": "many"}, err: `OPTS.workers: want a whole number, got "many"`},
		{name: "zero workers", opts: opa.Options{"url": "jobs.db", "workers": 0}, err: "OPTS.workers: want at least 1, got 0"},
		{name: "bad leader", opts: opa.Options{"url": "jobs.db", "leader": "maybe"}, err: `OPTS.leader: want auto, yes or no, got "maybe"`},
		{name: "bad duration", opts: opa.Options{"url": "jobs.db", "stop_timeout": 10}, err: "OPTS.stop_timeout: want a duration"},
		{name: "poll too short", opts: opa.Options{"url": "jobs.db", "poll_interval": "10ms"}, err: "at least 100ms"},
		{name: "url not a string", opts: opa.Options{"url": 5}, err: "OPTS.url: want a string, got a int"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOptions(tc.opts)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			want := defaults
			if tc.want != nil {
				tc.want(&want)
			}
			assert.Equal(t, want, got)
		})
	}
}

// OPTS.url names a SQLite file (a path, sqlite:PATH) or a Postgres server
// (postgres://, postgresql://); anything else is refused, its password never
// shown.
func TestParseURL(t *testing.T) {
	tests := []struct {
		url    string
		kind   dbKind
		target string
		err    string // the error contains it
	}{
		{url: "postgres://u:p@h/db", kind: dbPostgres, target: "postgres://u:p@h/db"},
		{url: "PostgreSQL://h/db", kind: dbPostgres, target: "PostgreSQL://h/db"},
		{url: "/data/jobs.db", kind: dbSQLite, target: "/data/jobs.db"},
		{url: "jobs.db", kind: dbSQLite, target: "jobs.db"},
		{url: "./data/jobs:1.db", kind: dbSQLite, target: "./data/jobs:1.db"},
		{url: "sqlite:///data/jobs.db", kind: dbSQLite, target: "/data/jobs.db"},
		{url: "sqlite:jobs.db", kind: dbSQLite, target: "jobs.db"},
		{url: "SQLite:jobs.db", kind: dbSQLite, target: "jobs.db"},
		{url: "sqlite:", err: "names no file"},
		{url: "pgsql://u:s3cretpw@h/db", err: "OPTS.url pgsql://u:xxxxx@h/db: unsupported scheme"},
		{url: "mysql://h/db", err: "OPTS.url mysql://h/db: unsupported scheme"},
		{url: "u:s3cretpw@h/db", err: "OPTS.url (not shown): unsupported scheme"},
		{url: "host=h user=u password=s3cretpw dbname=app", err: "libpq key=value connection string"},
		{url: "  ", err: "OPTS.url is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			kind, target, err := parseURL(tc.url)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.NotContains(t, err.Error(), "s3cretpw")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.kind, kind)
			assert.Equal(t, tc.target, target)
		})
	}
}
