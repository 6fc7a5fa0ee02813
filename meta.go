package opa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Meta is a plugin's metadata, read from its meta.json sidecar: NAME/meta.json
// for a directory plugin, NAME-meta.json beside a single-file plugin. A
// missing file is an empty Meta.
type Meta struct {
	// Tags are what PLUGIN_WHITELIST_TAGS and PLUGIN_BLACKLIST_TAGS compare.
	Tags []string `json:"tags,omitempty"`
	// Extra holds every other field, unread but kept for the report.
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// readMeta reads a meta.json file. A file that does not exist is an empty
// Meta; one that cannot be read or parsed is an error naming the file.
func readMeta(file string) (Meta, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("meta file %s: %w", file, err)
	}
	m, err := parseMeta(data)
	if err != nil {
		return Meta{}, fmt.Errorf("meta file %s: %w", file, err)
	}
	return m, nil
}

// parseMeta parses the contents of a meta.json file: a JSON object whose
// optional "tags" is a list of strings.
func parseMeta(data []byte) (Meta, error) {
	fields, tags, hasTags, ok := scanMeta(data)
	if !ok {
		var err error
		if fields, err = decodeMeta(data); err != nil {
			return Meta{}, err
		}
		tags, hasTags = fields["tags"]
		delete(fields, "tags")
	}
	var m Meta
	if hasTags {
		var err error
		if m.Tags, err = metaTags(tags); err != nil {
			return Meta{}, err
		}
	}
	if len(fields) > 0 {
		m.Extra = fields
	}
	return m, nil
}

// decodeMeta decodes a meta.json object with encoding/json, and says in
// plain words what is wrong with one that is not.
func decodeMeta(data []byte) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w (want an object such as {\"tags\": [\"a\", \"b\"]})", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: more than one value")
	}
	if fields == nil {
		return nil, errors.New("want a JSON object such as {\"tags\": [\"a\", \"b\"]}, got null")
	}
	return fields, nil
}

// metaTags decodes the "tags" value of a meta.json object.
func metaTags(raw json.RawMessage) ([]string, error) {
	if tags, ok := scanStrings(raw); ok {
		return tags, nil
	}
	var tags []string
	if err := json.Unmarshal(raw, &tags); err != nil {
		return nil, fmt.Errorf("\"tags\" must be a list of strings, got %s", jsonKind(raw))
	}
	return tags, nil
}

// The scanners below are a fast path for the meta.json files Startup reads
// for every candidate: they accept a strict subset of what decodeMeta and
// json.Unmarshal accept (object keys and tags of plain ASCII without
// escapes, nesting up to metaMaxDepth, nothing after the object), giving
// the same result, and report false for anything else, which then goes the
// encoding/json way, errors included.

// metaMaxDepth bounds the nesting the fast path follows.
const metaMaxDepth = 64

// scanMeta splits a meta.json object into its fields and its last "tags"
// value (as decodeMeta and a delete of "tags" would); ok is false when the
// fast path does not apply. The values are copies, as encoding/json makes.
func scanMeta(data []byte) (fields map[string]json.RawMessage, tags json.RawMessage, hasTags, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, nil, false, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		var copied []byte // data, copied once for the values to point into
		for {
			key, j := scanPlainString(data, i)
			if j < 0 {
				return nil, nil, false, false
			}
			i = skipSpace(data, j)
			if i >= len(data) || data[i] != ':' {
				return nil, nil, false, false
			}
			start := skipSpace(data, i+1)
			end := scanValue(data, start, 1)
			if end < 0 {
				return nil, nil, false, false
			}
			if copied == nil {
				copied = bytes.Clone(data)
			}
			raw := json.RawMessage(copied[start:end:end])
			if string(key) == "tags" {
				tags, hasTags = raw, true
			} else {
				if fields == nil {
					fields = map[string]json.RawMessage{}
				}
				fields[string(key)] = raw
			}
			i = skipSpace(data, end)
			if i < len(data) && data[i] == ',' {
				i = skipSpace(data, i+1)
				continue
			}
			if i < len(data) && data[i] == '}' {
				i++
				break
			}
			return nil, nil, false, false
		}
	}
	if skipSpace(data, i) != len(data) {
		return nil, nil, false, false
	}
	return fields, tags, hasTags, true
}

// scanStrings decodes a JSON list of plain strings (see scanPlainString),
// or reports false.
func scanStrings(raw []byte) ([]string, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	out := []string{}
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return out, skipSpace(raw, i+1) == len(raw)
	}
	for {
		s, j := scanPlainString(raw, i)
		if j < 0 {
			return nil, false
		}
		out = append(out, string(s))
		i = skipSpace(raw, j)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
			continue
		}
		if i < len(raw) && raw[i] == ']' {
			return out, skipSpace(raw, i+1) == len(raw)
		}
		return nil, false
	}
}

// skipSpace skips JSON white space from i.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// scanPlainString scans a JSON string at i whose contents are printable
// ASCII without escapes, so that they are its value. It returns the
// contents and the index after the closing quote, or -1.
func scanPlainString(data []byte, i int) ([]byte, int) {
	if i >= len(data) || data[i] != '"' {
		return nil, -1
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, -1
		}
	}
	return nil, -1
}

// scanValue scans the JSON value at i, following RFC 8259 as encoding/json
// does, and returns the index after it, or -1.
func scanValue(data []byte, i, depth int) int {
	if i >= len(data) {
		return -1
	}
	switch c := data[i]; {
	case c == '{' || c == '[':
		return scanComposite(data, i, depth)
	case c == '"':
		return scanString(data, i)
	case c == '-' || isDigit(c):
		return scanNumber(data, i)
	case c == 't':
		return scanLiteral(data, i, "true")
	case c == 'f':
		return scanLiteral(data, i, "false")
	case c == 'n':
		return scanLiteral(data, i, "null")
	}
	return -1
}

// scanComposite scans an object or a list at i.
func scanComposite(data []byte, i, depth int) int {
	if depth >= metaMaxDepth {
		return -1
	}
	obj := data[i] == '{'
	end := byte(']')
	if obj {
		end = '}'
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == end {
		return i + 1
	}
	for {
		if obj {
			if i = scanString(data, i); i < 0 {
				return -1
			}
			i = skipSpace(data, i)
			if i >= len(data) || data[i] != ':' {
				return -1
			}
			i = skipSpace(data, i+1)
		}
		if i = scanValue(data, i, depth+1); i < 0 {
			return -1
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return -1
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case end:
			return i + 1
		default:
			return -1
		}
	}
}

// scanString scans a JSON string at i: no control characters, and only
// the escapes JSON has.
func scanString(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(data) {
				return -1
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) || !isHex(data[i+1]) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// scanNumber scans a JSON number at i.
func scanNumber(data []byte, i int) int {
	if data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1
	case data[i] == '0':
		i++
	case isDigit(data[i]):
		i = skipDigits(data, i)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		if i+1 >= len(data) || !isDigit(data[i+1]) {
			return -1
		}
		i = skipDigits(data, i+1)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return -1
		}
		i = skipDigits(data, i)
	}
	return i
}

func scanLiteral(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list holding something other than strings"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
