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

func TestURLKinds(t *testing.T) {
	assert.True(t, isPostgres("postgres://h/db"))
	assert.True(t, isPostgres("PostgreSQL://h/db"))
	assert.False(t, isPostgres("/data/jobs.db"))
	assert.Equal(t, "/data/jobs.db", sqlitePath("sqlite:///data/jobs.db"))
	assert.Equal(t, "jobs.db", sqlitePath("sqlite:jobs.db"))
	assert.Equal(t, "jobs.db", sqlitePath("jobs.db"))
}
