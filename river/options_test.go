package river

import (
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseOptions(t *testing.T) {
	defaults := settings{url: "jobs.db", queue: "default", queues: map[string]int{"default": 10}, workers: 10,
		leader: "auto", migrate: "auto", stopTimeout: 8 * time.Second, rescueAfter: time.Hour, leaderAlarm: time.Minute,
		orphanAlarm: 5 * time.Minute}
	tests := []struct {
		name string
		opts opa.Options
		want func(*settings)
		err  string
	}{
		{name: "defaults", opts: opa.Options{"url": "jobs.db"}},
		{name: "all set, as YAML gives them", opts: opa.Options{
			"url": "postgres://u:p@h/db", "queue": "mail", "workers": 3, "leader": false, "max_attempts": 5,
			"job_timeout": "30s", "stop_timeout": "1m", "poll_interval": "250ms", "queues": map[string]any{"mail": 2, "bulk": nil},
			"migrate": false, "rescue_after": "5m", "leader_alarm": "30s", "partial": true, "orphan_alarm": "2m",
			"fetch_cooldown": "20ms",
		}, want: func(s *settings) {
			*s = settings{url: "postgres://u:p@h/db", queue: "mail", queues: map[string]int{"mail": 2, "bulk": 3}, workers: 3,
				leader: "no", migrate: "no", maxAttempts: 5, jobTimeout: 30 * time.Second, stopTimeout: time.Minute,
				pollInterval: 250 * time.Millisecond, rescueAfter: 5 * time.Minute, leaderAlarm: 30 * time.Second,
				partial: true, orphanAlarm: 2 * time.Minute, fetchCooldown: 20 * time.Millisecond}
		}},
		{name: "numbers as env strings", opts: opa.Options{"url": "x.db", "workers": "4", "leader": "YES", "queues": "default=2, mail"},
			want: func(s *settings) {
				s.url, s.workers, s.leader, s.queues = "x.db", 4, "yes", map[string]int{"default": 2, "mail": 4}
			}},
		{name: "float from JSON", opts: opa.Options{"url": "jobs.db", "workers": 2.0}, want: func(s *settings) {
			s.workers, s.queues = 2, map[string]int{"default": 2}
		}},
		{name: "one queue listed is the queue", opts: opa.Options{"url": "jobs.db", "queues": []any{"mail"}}, want: func(s *settings) {
			s.queue, s.queues = "mail", map[string]int{"mail": 10}
		}},
		{name: "queue not among queues", opts: opa.Options{"url": "jobs.db", "queue": "mail", "queues": "a,b"},
			err: `OPTS.queue "mail" is not one of OPTS.queues (a, b)`},
		{name: "bad queue concurrency", opts: opa.Options{"url": "jobs.db", "queues": "a=0"}, err: "OPTS.queues: queue a: want at least 1, got 0"},
		{name: "periodic, split at dots or not", opts: opa.Options{"url": "jobs.db",
			"periodic": map[string]any{"notes.reindex": "1h", "notes": map[string]any{"report": "24h"}}},
			want: func(s *settings) {
				s.periodic = map[string]time.Duration{"notes.reindex": time.Hour, "notes.report": 24 * time.Hour}
			}},
		{name: "periodic as a list", opts: opa.Options{"url": "jobs.db",
			"periodic": []any{map[string]any{"kind": "a.b", "every": "5m"}}},
			want: func(s *settings) { s.periodic = map[string]time.Duration{"a.b": 5 * time.Minute} }},
		{name: "periodic from the environment", opts: opa.Options{"url": "jobs.db", "periodic": "a.b=5m, c=1s"},
			want: func(s *settings) { s.periodic = map[string]time.Duration{"a.b": 5 * time.Minute, "c": time.Second} }},
		{name: "bad periodic", opts: opa.Options{"url": "jobs.db", "periodic": "a.b"}, err: `OPTS.periodic: want KIND=DURATION, got "a.b"`},
		{name: "poll only", opts: opa.Options{"url": "jobs.db", "poll_only": "yes"}, want: func(s *settings) { s.pollOnly = true }},
		{name: "bad poll only", opts: opa.Options{"url": "jobs.db", "poll_only": "maybe"}, err: `OPTS.poll_only: want true or false, got "maybe"`},
		{name: "bad migrate", opts: opa.Options{"url": "jobs.db", "migrate": "later"}, err: `OPTS.migrate: want auto or no, got "later"`},
		{name: "rescue within the job timeout", opts: opa.Options{"url": "jobs.db", "rescue_after": "30s"},
			err: "OPTS.rescue_after (30s) must be longer than OPTS.job_timeout (1m0s)"},
		{name: "url or database required", opts: opa.Options{}, err: "OPTS.url or OPTS.database is required"},
		{name: "database", opts: opa.Options{"database": "db"}, want: func(s *settings) { s.url, s.database = "", "db" }},
		{name: "url and database", opts: opa.Options{"url": "jobs.db", "database": "db"}, err: "OPTS.url and OPTS.database are both set: give one"},
		{name: "unknown key", opts: opa.Options{"url": "jobs.db", "worker": 3}, err: `unknown OPTS key "worker"; known keys: database, fetch_cooldown, job_timeout, leader,`},
		{name: "bad workers", opts: opa.Options{"url": "jobs.db", "workers": "many"}, err: `OPTS.workers: want a whole number, got "many"`},
		{name: "zero workers", opts: opa.Options{"url": "jobs.db", "workers": 0}, err: "OPTS.workers: want at least 1, got 0"},
		{name: "words in any case, bools as words", opts: opa.Options{"url": "jobs.db", "leader": " True ", "migrate": "YES", "poll_only": true},
			want: func(s *settings) { s.leader, s.migrate, s.pollOnly = "yes", "auto", true }},
		{name: "leader not a word", opts: opa.Options{"url": "jobs.db", "leader": 1}, err: "OPTS.leader: want auto, yes or no, got a int"},
		{name: "bad leader", opts: opa.Options{"url": "jobs.db", "leader": "maybe"}, err: `OPTS.leader: want auto, yes or no, got "maybe"`},
		{name: "bad duration", opts: opa.Options{"url": "jobs.db", "stop_timeout": 10}, err: "OPTS.stop_timeout: want a duration"},
		{name: "poll too short", opts: opa.Options{"url": "jobs.db", "poll_interval": "10ms"}, err: "poll_interval must be at least OPTS.fetch_cooldown (100ms), got 10ms"},
		{name: "poll at a short cooldown", opts: opa.Options{"url": "jobs.db", "poll_interval": "10ms", "fetch_cooldown": "5ms"},
			want: func(s *settings) { s.pollInterval, s.fetchCooldown = 10*time.Millisecond, 5*time.Millisecond }},
		{name: "cooldown under River's minimum", opts: opa.Options{"url": "jobs.db", "fetch_cooldown": "100us"}, err: "OPTS.fetch_cooldown must be at least 1ms"},
		{name: "bad partial", opts: opa.Options{"url": "jobs.db", "partial": "some"}, err: `OPTS.partial: want true or false, got "some"`},
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
