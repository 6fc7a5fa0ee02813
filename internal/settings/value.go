package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxConfigDepth bounds how deeply settings may nest, so that a cyclic map
// set on a viper instance or a pathological JSON value is an error, not a
// stack overflow.
const maxConfigDepth = 64

// normalizeValue turns a value as a decoder or a host gave it into the
// shapes the merge and decode steps work on: maps become map[string]any with
// lower-case keys, slices become []any, integers become int (when they fit),
// json.Number becomes int or float64; other scalars are kept. Two keys of one
// map that differ only in case are an error, as is nesting deeper than
// maxConfigDepth. path is the key path of v, for error messages; the error
// is a *Error without Source. Values are never quoted in errors.
func normalizeValue(v any, path []string) (any, error) {
	if len(path) > maxConfigDepth {
		return nil, &Error{Key: KeyName(path), Err: fmt.Errorf("settings nest deeper than %d levels", maxConfigDepth)}
	}
	switch x := v.(type) {
	case nil, string, bool, int, float64:
		return v, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return int(i), nil
		}
		f, err := x.Float64()
		if err != nil {
			return string(x), nil
		}
		return f, nil
	case []byte:
		return string(x), nil
	case time.Time:
		return x, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		return normalizeMap(rv, path)
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			e, err := normalizeValue(rv.Index(i).Interface(), append(path, strconv.Itoa(i)))
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() <= math.MaxInt64 {
			return int(rv.Uint()), nil
		}
		return rv.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.Pointer, reflect.Interface:
		for range maxConfigDepth {
			if rv.IsNil() {
				return nil, nil
			}
			if rv = rv.Elem(); rv.Kind() != reflect.Pointer && rv.Kind() != reflect.Interface {
				return normalizeValue(rv.Interface(), path)
			}
		}
		return nil, &Error{Key: KeyName(path), Err: errors.New("a pointer chain too long to follow")}
	}
	return v, nil
}

// normalizeMap is normalizeValue for maps of any key type; keys that are not
// strings are formatted with fmt.
func normalizeMap(rv reflect.Value, path []string) (map[string]any, error) {
	type entry struct {
		key string
		val any
	}
	entries := make([]entry, 0, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		k := iter.Key()
		var ks string
		if k.Kind() == reflect.String {
			ks = k.String()
		} else {
			ks = fmt.Sprint(k.Interface())
		}
		entries = append(entries, entry{ks, iter.Value().Interface()})
	}
	// Sorted, so the error for a case clash is the same on every run.
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	out := make(map[string]any, len(entries))
	orig := make(map[string]string, len(entries))
	for _, e := range entries {
		lk := strings.ToLower(e.key)
		if prev, dup := orig[lk]; dup {
			return nil, &Error{Key: KeyName(append(path, lk)), Err: fmt.Errorf("keys %q and %q differ only in case; keys are case-insensitive, keep one", prev, e.key)}
		}
		orig[lk] = e.key
		val, err := normalizeValue(e.val, append(path, lk))
		if err != nil {
			return nil, err
		}
		out[lk] = val
	}
	return out, nil
}

// decodeJSON parses one JSON value with ParseJSON and normalizes it; path is
// where the value goes, for error messages. An error is a *Error
// without Source.
func decodeJSON(s string, path []string) (any, error) {
	v, err := ParseJSON(s)
	if err != nil {
		return nil, &Error{Key: KeyName(path), Err: err}
	}
	return normalizeValue(v, path)
}

// ParseJSON parses one JSON value, keeping numbers exact (normalizeValue
// then makes integers int, as YAML and TOML give them), and rejects
// trailing data.
func ParseJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return v, nil
}

// WithSource sets the Source of an *Error that has none, and returns err.
func WithSource(err error, source string) error {
	var ce *Error
	if errors.As(err, &ce) && ce.Source == "" {
		ce.Source = source
	}
	return err
}
