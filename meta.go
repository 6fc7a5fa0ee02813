package opa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/trust"
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
// checkOpen (when not nil) applies the permission rule to the file read
// (see readChecked): a meta.json decides, through the tag filters, which
// code runs.
func readMeta(file string, checkOpen func(string) (*os.File, fs.FileInfo, error)) (Meta, error) {
	data, err := readChecked(file, "a meta.json", maxMetaSize, checkOpen)
	if _, ok := errors.AsType[*trust.Error](err); ok {
		if _, lerr := os.Lstat(file); errors.Is(lerr, fs.ErrNotExist) {
			// No meta.json in a directory that fails the rule: the .so
			// file's own check says so, at its step.
			return Meta{}, nil
		}
		return Meta{}, trustStep(err)
	}
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

// readChecked reads a file that opa reads whole (a meta.json, an opa.lock)
// without blocking and without reading more than limit bytes (see
// preflight.ReadFile; what names the file in a refusal). checkOpen, the
// pass's permission rule (nil: none, as with
// PLUGIN_ALLOW_INSECURE_PERMISSIONS), opens the file and judges the open
// descriptor, so that the bytes read are those of the file judged, even if
// another file was renamed into its place meanwhile.
func readChecked(file, what string, limit int64, checkOpen func(string) (*os.File, fs.FileInfo, error)) ([]byte, error) {
	var f *os.File
	var fi fs.FileInfo
	var err error
	if checkOpen != nil {
		f, fi, err = checkOpen(file)
	}
	if nr, ok := errors.AsType[*preflight.NotRegularError](err); ok {
		nr.What = what
	}
	if err != nil {
		return nil, err
	}
	if f == nil { // no rule, or the rule is off
		return preflight.ReadFile(file, what, limit)
	}
	defer f.Close()
	return preflight.ReadOpen(f, fi, what, limit)
}

// maxMetaSize is the most bytes a meta.json may have. One holds tags and a
// few fields; the cap keeps a wrong or growing file from being read into
// memory whole.
const maxMetaSize = 1 << 20

// parseMeta parses the contents of a meta.json file: a JSON object whose
// optional "tags" is a list of strings. Every other field is kept in Extra.
func parseMeta(data []byte) (Meta, error) {
	var fields map[string]json.RawMessage
	// One JSON value and nothing else, the common case, decodes the same
	// with json.Unmarshal as with a Decoder, in fewer allocations; anything
	// else goes through the Decoder, whose verdict (and error) it keeps.
	if json.Unmarshal(data, &fields) != nil {
		fields = nil
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&fields); err != nil {
			return Meta{}, fmt.Errorf("invalid JSON: %w (want an object such as {\"tags\": [\"a\", \"b\"]})", err)
		}
		if dec.More() {
			return Meta{}, errors.New("invalid JSON: more than one value")
		}
	}
	if fields == nil {
		return Meta{}, errors.New("want a JSON object such as {\"tags\": [\"a\", \"b\"]}, got null")
	}
	var m Meta
	if raw, ok := fields["tags"]; ok {
		delete(fields, "tags")
		if err := json.Unmarshal(raw, &m.Tags); err != nil {
			return Meta{}, fmt.Errorf("\"tags\" must be a list of strings, got %s", jsonKind(raw))
		}
	}
	if len(fields) > 0 {
		m.Extra = fields
	}
	return m, nil
}

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
