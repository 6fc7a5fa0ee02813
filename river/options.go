package river

import (
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
	url          string        // a SQLite file path, or a postgres:// URL (required)
	queue        string        // the River queue jobs go to and are fetched from: "default"
	workers      int           // jobs one worker process runs at once: 10
	leader       string        // "auto", "yes" or "no": "auto"
	maxAttempts  int           // River's default: 25
	jobTimeout   time.Duration // River's default: 1m
	stopTimeout  time.Duration // how long a stopping worker lets jobs finish: 10s
	pollInterval time.Duration // River's default: 1s
}

// optionKeys are the OPTS keys the driver reads, lower-case as viper gives them.
var optionKeys = map[string]func(*settings, any) error{
	"url":           func(s *settings, v any) (err error) { s.url, err = stringOpt(v); return },
	"queue":         func(s *settings, v any) (err error) { s.queue, err = stringOpt(v); return },
	"workers":       func(s *settings, v any) (err error) { s.workers, err = intOpt(v, 1); return },
	"leader":        func(s *settings, v any) (err error) { s.leader, err = leaderOpt(v); return },
	"max_attempts":  func(s *settings, v any) (err error) { s.maxAttempts, err = intOpt(v, 1); return },
	"job_timeout":   func(s *settings, v any) (err error) { s.jobTimeout, err = durationOpt(v); return },
	"stop_timeout":  func(s *settings, v any) (err error) { s.stopTimeout, err = durationOpt(v); return },
	"poll_interval": func(s *settings, v any) (err error) { s.pollInterval, err = durationOpt(v); return },
}

// parseOptions checks OPTS. Errors name the key but never its value, which
// may hold a password.
func parseOptions(opts opa.Options) (settings, error) {
	s := settings{queue: "default", workers: 10, leader: "auto", stopTimeout: 10 * time.Second}
	for _, key := range slices.Sorted(maps.Keys(opts)) {
		set, ok := optionKeys[strings.ToLower(key)]
		if !ok {
			return s, fmt.Errorf("river: unknown OPTS key %q; known keys: %s", key, strings.Join(slices.Sorted(maps.Keys(optionKeys)), ", "))
		}
		if err := set(&s, opts[key]); err != nil {
			return s, fmt.Errorf("river: OPTS.%s: %w", strings.ToLower(key), err)
		}
	}
	switch {
	case s.url == "":
		return s, fmt.Errorf("river: OPTS.url is required: a SQLite file path (jobs.db) or a postgres:// URL")
	case s.queue == "":
		return s, fmt.Errorf("river: OPTS.queue is empty")
	case s.pollInterval != 0 && s.pollInterval < 100*time.Millisecond:
		return s, fmt.Errorf("river: OPTS.poll_interval must be at least 100ms (River's fetch cooldown), got %s", s.pollInterval)
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
	switch x := v.(type) {
	case bool:
		if x {
			return "yes", nil
		}
		return "no", nil
	case string:
		switch s := strings.ToLower(strings.TrimSpace(x)); s {
		case "auto", "yes", "no":
			return s, nil
		case "true":
			return "yes", nil
		case "false":
			return "no", nil
		}
		return "", fmt.Errorf("want auto, yes or no, got %q", x)
	}
	return "", fmt.Errorf("want auto, yes or no, got a %T", v)
}
