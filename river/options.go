package river

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opa-stack/opa-go"
)

// settings are a component's OPTS, checked. Zero values mean River's
// defaults, except where a default is written here.
type settings struct {
	url           string                   // a SQLite file path, or a postgres:// URL (this or database)
	database      string                   // the component whose database to share (this or url)
	queue         string                   // the River queue Enqueue uses when the job names none: "default"
	queues        map[string]int           // the queues Work fetches from, each with its concurrency: {queue: workers}
	workers       int                      // jobs one worker process runs at once, per queue: 10
	migrate       string                   // "auto" or "no": "auto"
	rescueAfter   time.Duration            // River's RescueStuckJobsAfter: 1h
	leaderAlarm   time.Duration            // how long a worker sees no leader before it logs an error: 1m
	periodic      map[string]time.Duration // task kinds the leader enqueues every interval
	pollOnly      bool                     // River's PollOnly: no LISTEN (PgBouncer in transaction mode)
	leader        string                   // "auto", "yes" or "no": "auto"
	partial       bool                     // this worker lacks some of the fleet's task plugins: it does not lead under leader: auto
	orphanAlarm   time.Duration            // how long jobs wait with no running worker for their kind before the leader logs an error: 5m
	fetchCooldown time.Duration            // River's FetchCooldown: 100ms
	maxAttempts   int                      // River's default: 25
	jobTimeout    time.Duration            // River's default: 1m
	stopTimeout   time.Duration            // the bound on a stop, from its start to Work's return: 8s
	pollInterval  time.Duration            // River's default: 1s
}

// optionKeys are the OPTS keys the driver reads, lower-case as viper gives them.
var optionKeys = map[string]func(*settings, any) error{
	"url":      func(s *settings, v any) (err error) { s.url, err = stringOpt(v); return },
	"database": func(s *settings, v any) (err error) { s.database, err = stringOpt(v); return },
	"queue": func(s *settings, v any) (err error) {
		if s.queue, err = stringOpt(v); err == nil && s.queue != "" {
			err = checkQueueName(s.queue)
		}
		return err
	},
	"queues":         func(s *settings, v any) (err error) { s.queues, err = queuesOpt(v); return },
	"migrate":        func(s *settings, v any) (err error) { s.migrate, err = migrateOpt(v); return },
	"rescue_after":   func(s *settings, v any) (err error) { s.rescueAfter, err = durationOpt(v); return },
	"leader_alarm":   func(s *settings, v any) (err error) { s.leaderAlarm, err = durationOpt(v); return },
	"periodic":       func(s *settings, v any) (err error) { s.periodic, err = periodicOpt(v); return },
	"poll_only":      func(s *settings, v any) (err error) { s.pollOnly, err = boolOpt(v); return },
	"workers":        func(s *settings, v any) (err error) { s.workers, err = intOpt(v, 1); return },
	"leader":         func(s *settings, v any) (err error) { s.leader, err = leaderOpt(v); return },
	"max_attempts":   func(s *settings, v any) (err error) { s.maxAttempts, err = intOpt(v, 1); return },
	"job_timeout":    func(s *settings, v any) (err error) { s.jobTimeout, err = durationOpt(v); return },
	"stop_timeout":   func(s *settings, v any) (err error) { s.stopTimeout, err = durationOpt(v); return },
	"poll_interval":  func(s *settings, v any) (err error) { s.pollInterval, err = durationOpt(v); return },
	"partial":        func(s *settings, v any) (err error) { s.partial, err = boolOpt(v); return },
	"orphan_alarm":   func(s *settings, v any) (err error) { s.orphanAlarm, err = durationOpt(v); return },
	"fetch_cooldown": func(s *settings, v any) (err error) { s.fetchCooldown, err = durationOpt(v); return },
}

// parseOptions checks OPTS (opa has refused unknown keys already, Driver.Opts;
// the check here is for a direct New). Errors name the key; the url is shown
// only with its password replaced.
func parseOptions(opts opa.Options) (settings, error) {
	s := settings{queue: "default", workers: 10, leader: "auto", migrate: "auto", stopTimeout: 8 * time.Second,
		rescueAfter: time.Hour, leaderAlarm: time.Minute, orphanAlarm: 5 * time.Minute}
	queueSet := false
	for _, key := range slices.Sorted(maps.Keys(opts)) {
		set, ok := optionKeys[strings.ToLower(key)]
		if !ok {
			return s, fmt.Errorf("river: unknown OPTS key %q; known keys: %s", key, strings.Join(slices.Sorted(maps.Keys(optionKeys)), ", "))
		}
		if err := set(&s, opts[key]); err != nil {
			return s, fmt.Errorf("river: OPTS.%s: %w", strings.ToLower(key), err)
		}
		queueSet = queueSet || strings.EqualFold(key, "queue")
	}
	switch {
	case s.queues == nil:
		s.queues = map[string]int{s.queue: s.workers}
	case !queueSet && len(s.queues) == 1:
		for q := range s.queues {
			s.queue = q
		}
	}
	for q, n := range s.queues {
		if n == 0 {
			s.queues[q] = s.workers
		}
	}
	jobTimeout := s.jobTimeout
	if jobTimeout == 0 {
		jobTimeout = time.Minute // River's default
	}
	switch {
	case s.url != "" && s.database != "":
		return s, fmt.Errorf("river: OPTS.url and OPTS.database are both set: give one, url for a database of the queue's own, or database to share another component's")
	case s.url == "" && s.database == "":
		return s, fmt.Errorf("river: OPTS.url or OPTS.database is required: a SQLite file path (jobs.db) or a postgres:// URL, or the name of a component whose database the queue shares (database: db)")
	case s.queue == "":
		return s, fmt.Errorf("river: OPTS.queue is empty")
	case s.queues[s.queue] == 0:
		return s, fmt.Errorf("river: OPTS.queue %q is not one of OPTS.queues (%s): jobs enqueued without a queue would never be worked", s.queue, strings.Join(slices.Sorted(maps.Keys(s.queues)), ", "))
	case s.rescueAfter <= jobTimeout:
		return s, fmt.Errorf("river: OPTS.rescue_after (%s) must be longer than OPTS.job_timeout (%s): a job still within its timeout would be rescued and run twice", s.rescueAfter, jobTimeout)
	case s.fetchCooldown != 0 && s.fetchCooldown < time.Millisecond:
		return s, fmt.Errorf("river: OPTS.fetch_cooldown must be at least 1ms (River's minimum), got %s", s.fetchCooldown)
	case s.pollInterval != 0 && s.pollInterval < cmp.Or(s.fetchCooldown, 100*time.Millisecond):
		return s, fmt.Errorf("river: OPTS.poll_interval must be at least OPTS.fetch_cooldown (%s), got %s", cmp.Or(s.fetchCooldown, 100*time.Millisecond), s.pollInterval)
	case s.stopTimeout < 100*time.Millisecond:
		return s, fmt.Errorf("river: OPTS.stop_timeout must be at least 100ms, got %s", s.stopTimeout)
	}
	return s, nil
}

func stringOpt(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got a %T", v)
	}
	return strings.TrimSpace(s), nil
}

func intOpt(v any, minimum int) (int, error) {
	var n int
	switch x := v.(type) {
	case int:
		n = x
	case int64:
		n = int(x)
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("want a whole number, got %v", x)
		}
		n = int(x)
	case string:
		var err error
		if n, err = strconv.Atoi(strings.TrimSpace(x)); err != nil {
			return 0, fmt.Errorf("want a whole number, got %q", x)
		}
	default:
		return 0, fmt.Errorf("want a whole number, got a %T", v)
	}
	if n < minimum {
		return 0, fmt.Errorf("want at least %d, got %d", minimum, n)
	}
	return n, nil
}

func durationOpt(v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case string:
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(x)); err != nil {
			return 0, fmt.Errorf("want a duration such as 30s, got %q", x)
		}
	default:
		return 0, fmt.Errorf("want a duration such as \"30s\", got a %T", v)
	}
	if d <= 0 {
		return 0, fmt.Errorf("want a positive duration, got %s", d)
	}
	return d, nil
}

// leaderOpt reads LEADER: auto, yes or no, in any case; YAML's true and
// false mean yes and no.
func leaderOpt(v any) (string, error) {
	return wordOpt(v, "auto, yes or no", map[string]string{
		"auto": "auto", "yes": "yes", "true": "yes", "no": "no", "false": "no",
	})
}

// queuesOpt reads QUEUES: a map of queue name to concurrency ({default: 10,
// mail: 2}; at least 1), a list of names, or, from the environment,
// "default=10,mail" (a name without a number gets OPTS.workers).
func queuesOpt(v any) (map[string]int, error) {
	out := map[string]int{}
	add := func(name string, n any) error {
		name = strings.TrimSpace(name)
		if name == "" {
			return errors.New("a queue name is empty")
		}
		if err := checkQueueName(name); err != nil {
			return err
		}
		w := 0
		if n != nil {
			var err error
			if w, err = intOpt(n, 1); err != nil {
				return fmt.Errorf("queue %s: %w", name, err)
			}
		}
		out[name] = w
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		for name, n := range x {
			if err := add(name, n); err != nil {
				return nil, err
			}
		}
	case []any:
		for _, e := range x {
			name, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want queue names, got a %T", e)
			}
			if err := add(name, nil); err != nil {
				return nil, err
			}
		}
	case []string:
		for _, name := range x {
			if err := add(name, nil); err != nil {
				return nil, err
			}
		}
	case string:
		for part := range strings.SplitSeq(x, ",") {
			name, n, ok := strings.Cut(part, "=")
			var num any
			if ok {
				num = n
			}
			if err := add(name, num); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("want a map of queue names to concurrency, or a list of names, got a %T", v)
	}
	if len(out) == 0 {
		return nil, errors.New("no queue named")
	}
	return out, nil
}

// migrateOpt reads MIGRATE: auto or no, in any case; yes, and YAML's true
// and false, mean auto, auto and no.
func migrateOpt(v any) (string, error) {
	return wordOpt(v, "auto or no", map[string]string{
		"auto": "auto", "yes": "auto", "true": "auto", "no": "no", "false": "no",
	})
}

// periodicOpt reads PERIODIC: a map of task kind to interval
// ({notes.reindex: 1h}; a settings loader that splits keys at dots gives
// {notes: {reindex: 1h}}, read the same), a list of {kind: K, every: D}, or,
// from the environment, "notes.reindex=1h,notes.report=24h".
func periodicOpt(v any) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	add := func(kind string, every any) error {
		kind = strings.TrimSpace(kind)
		if kind == "" {
			return errors.New("a task kind is empty")
		}
		d, err := durationOpt(every)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		out[kind] = d
		return nil
	}
	var walk func(prefix string, m map[string]any) error
	walk = func(prefix string, m map[string]any) error {
		for k, e := range m {
			if sub, ok := e.(map[string]any); ok {
				if err := walk(prefix+k+".", sub); err != nil {
					return err
				}
				continue
			}
			if err := add(prefix+k, e); err != nil {
				return err
			}
		}
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		if err := walk("", x); err != nil {
			return nil, err
		}
	case []any:
		for _, e := range x {
			m, ok := e.(map[string]any)
			kind, _ := m["kind"].(string)
			if !ok || kind == "" || m["every"] == nil {
				return nil, fmt.Errorf("want {kind: KIND, every: DURATION} entries, got %v", e)
			}
			if err := add(kind, m["every"]); err != nil {
				return nil, err
			}
		}
	case string:
		for part := range strings.SplitSeq(x, ",") {
			kind, every, ok := strings.Cut(part, "=")
			if !ok {
				return nil, fmt.Errorf("want KIND=DURATION, got %q", part)
			}
			if err := add(kind, every); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("want a map of task kind to interval, got a %T", v)
	}
	return out, nil
}

// boolOpt reads a YAML bool, or true/false/yes/no from the environment.
func boolOpt(v any) (bool, error) {
	return wordOpt(v, "true or false", map[string]bool{
		"true": true, "yes": true, "false": false, "no": false,
	})
}

// wordOpt reads a setting that is one of a few words: a YAML bool, or a
// string in any case that words maps to its value (words holds "true" and
// "false" for the bools). want lists the words for the error.
func wordOpt[T any](v any, want string, words map[string]T) (T, error) {
	var key string
	switch x := v.(type) {
	case bool:
		key = strconv.FormatBool(x)
	case string:
		key = strings.ToLower(strings.TrimSpace(x))
	default:
		var zero T
		return zero, fmt.Errorf("want %s, got a %T", want, v)
	}
	val, ok := words[key]
	if !ok {
		return val, fmt.Errorf("want %s, got %q", want, v)
	}
	return val, nil
}
