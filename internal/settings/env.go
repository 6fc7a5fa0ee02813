package settings

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Environment variables that LoadConfig reads.
const (
	envPrefix          = "OPA_"             // settings: OPA_PLUGIN_PATHS, OPA_A__B (nested)
	envSettingsDir     = "OPA_SETTINGS_DIR" // where settings files are; not a setting
	envEnvironment     = "ENV"              // the section of settings files to apply
	defaultEnvironment = "development"      // when ENV is unset or empty
)

// envSetting is one OPA_ variable, parsed.
type envSetting struct {
	name  string   // the variable, "OPA_OPTIONAL_COMPONENTS__REDIS__LOAD"
	path  []string // the key path, lower-case: optional_components, redis, load
	value any      // normalized (see normalizeValue)
	merge bool     // set with @merge: append or deep-merge into lower layers
}

// environMap turns "NAME=VALUE" strings (as os.Environ gives them) into a
// map. The first of duplicate names wins, as with os.Getenv.
func Environ(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if _, dup := m[name]; !dup {
			m[name] = val
		}
	}
	return m
}

// Section is the section of the settings files that ENV of env selects,
// lower-case; "development" when ENV is unset or blank.
func Section(env map[string]string) string {
	e := strings.ToLower(strings.TrimSpace(env[envEnvironment]))
	if e == "" {
		return defaultEnvironment
	}
	return e
}

// envSettings parses every OPA_ variable but OPA_SETTINGS_DIR. They are
// sorted by key path (then name), so OPA_OPTIONAL_COMPONENTS applies before
// OPA_OPTIONAL_COMPONENTS__REDIS__LOAD refines it.
func envSettings(env map[string]string) ([]envSetting, error) {
	var out []envSetting
	for name, raw := range env {
		if !strings.HasPrefix(name, envPrefix) || name == envSettingsDir {
			continue
		}
		path := strings.Split(name[len(envPrefix):], "__")
		for i, p := range path {
			if p == "" {
				return nil, &Error{Source: "env " + name, Err: errors.New("empty key in the variable name (a leading, trailing or doubled \"__\")")}
			}
			path[i] = strings.ToLower(p)
		}
		v, merge, err := parseEnvValue(raw, path)
		if err != nil {
			return nil, WithSource(err, "env "+name)
		}
		out = append(out, envSetting{name: name, path: path, value: v, merge: merge})
	}
	slices.SortFunc(out, func(a, b envSetting) int {
		if c := slices.Compare(a.path, b.path); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return out, nil
}

// parseEnvValue turns the value of an OPA_ variable into a setting, as
// dynaconf does:
//
//   - "[...]" or "{...}" (after trimming spaces) is JSON.
//   - "@merge X" merges X into lower layers (merge is true): X is JSON, or
//     comma-separated items (trimmed, empty ones dropped), or one scalar as
//     below; a scalar or items become a list.
//   - "@str X" is the string X; "@int X", "@float X", "@bool X" (true for
//     true, 1, yes, y, on, t, enabled, any case), "@json X" and "@none"
//     convert X as named.
//   - "true" and "false" (any case) are booleans, integers are int.
//   - Anything else is the string itself.
//
// path is the variable's key path, for errors; an error is a *Error
// without Source. Errors never quote the value (a JSON syntax error shows
// one character at most).
func parseEnvValue(raw string, path []string) (v any, merge bool, err error) {
	fail := func(err error) (any, bool, error) {
		var ce *Error
		if errors.As(err, &ce) {
			return nil, false, err
		}
		return nil, false, &Error{Key: KeyName(path), Err: err}
	}
	if strings.HasPrefix(raw, "@") {
		tok, rest, _ := strings.Cut(raw, " ")
		switch tok {
		case "@str":
			return rest, false, nil
		case "@merge":
			v, err := parseMergeValue(rest, path)
			if err != nil {
				return fail(err)
			}
			return v, true, nil
		case "@json":
			v, err := decodeJSON(rest, path)
			if err != nil {
				return fail(err)
			}
			return v, false, nil
		case "@int":
			i, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				return fail(errors.New("@int: the value is not an integer"))
			}
			return i, false, nil
		case "@float":
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return fail(errors.New("@float: the value is not a number"))
			}
			return f, false, nil
		case "@bool":
			switch strings.ToLower(strings.TrimSpace(rest)) {
			case "true", "1", "yes", "y", "on", "t", "enabled":
				return true, false, nil
			}
			return false, false, nil
		case "@none":
			return nil, false, nil
		}
	}
	if t := strings.TrimSpace(raw); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
		v, err := decodeJSON(t, path)
		if err != nil {
			return fail(err)
		}
		return v, false, nil
	}
	return parseEnvScalar(raw), false, nil
}

// parseMergeValue is the X of "@merge X": JSON, comma-separated items, or
// one scalar; items and a scalar become a list.
func parseMergeValue(rest string, path []string) (any, error) {
	t := strings.TrimSpace(rest)
	switch {
	case strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{"):
		return decodeJSON(t, path)
	case t == "":
		return []any{}, nil
	case strings.Contains(t, ","):
		var items []any
		for _, item := range strings.Split(t, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		return items, nil
	}
	return []any{parseEnvScalar(t)}, nil
}

// parseEnvScalar is a plain value as dynaconf's TOML parsing reads it:
// true/false (any case) are booleans, TOML integers (no leading zeros) are
// int, and anything else is the string itself.
func parseEnvScalar(s string) any {
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) <= 1 && digits != "" && (digits == "0" || digits[0] != '0') && strings.Trim(digits, "0123456789") == "" {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(i)
		}
	}
	return s
}

// EnvValue returns the value that the OPA_ variables of env give the
// top-level key (lower-case), and the name of the variable that sets it,
// exactly as Load applies them; nil and "" when no variable sets it. Any
// bad OPA_ variable is an *Error, as in Load.
func EnvValue(env map[string]string, key string) (any, string, error) {
	vars, err := envSettings(env)
	if err != nil {
		return nil, "", err
	}
	var v any
	var name string
	for _, s := range vars {
		if len(s.path) == 1 && s.path[0] == key {
			v, name = s.value, s.name
		}
	}
	return v, name, nil
}
