package opa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

// parseMetaReference is parseMeta as it was before its fast path (see
// scanMeta): encoding/json only. The fast path must give exactly its
// results and errors.
func parseMetaReference(data []byte) (Meta, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fields); err != nil {
		return Meta{}, fmt.Errorf("invalid JSON: %w (want an object such as {\"tags\": [\"a\", \"b\"]})", err)
	}
	if dec.More() {
		return Meta{}, errors.New("invalid JSON: more than one value")
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

// checkParseMeta compares parseMeta with parseMetaReference on data.
func checkParseMeta(t *testing.T, data []byte) {
	t.Helper()
	got, gerr := parseMeta(data)
	want, werr := parseMetaReference(data)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("parseMeta(%q): error %v, want %v", data, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) || (got.Tags == nil) != (want.Tags == nil) {
		t.Fatalf("parseMeta(%q) = %#v, want %#v", data, got, want)
	}
}

var parseMetaCases = []string{
	``, ` `, `{`, `}`, `{}`, ` {} `, "\t{\n}\r\n", `{} {}`, `{}}`, `{}]`, `{} x`, `{},`, `null`, `[]`, `"x"`, `1`, `true`,
	`{"tags": ["a", "b"]}`, `{"tags": []}`, `{"tags": [ ]}`, `{"tags": null}`, `{"tags": "a"}`, `{"tags": [1]}`,
	`{"tags": ["a", 1]}`, `{"tags": {}}`, `{"tags": ["a",]}`, `{"tags": [,"a"]}`, `{"tags": ["a" "b"]}`, `{"tags": ["a", null]}`,
	`{"tags": ["\u00e9"]}`, `{"tags": ["é"]}`, "{\"tags\": [\"\xff\"]}", `{"tags": ["a\"b"]}`, `{"tags": ["a\\b"]}`,
	`{"tags": ["a"], "tags": ["b"]}`, `{"tags": ["a"], "tags": 1}`, `{"x": 1, "x": 2}`, `{"TAGS": ["a"]}`, `{"Tags": ["a"]}`,
	`{"tags": ["team-1", "tier-2"], "version": "1.1234.0", "description": "benchmark candidate 1234"}`,
	`{"tags": ["a"], "version": "2", "owner": {"team": "x"}}`,
	`{"a": -0, "b": 0.5, "c": 1e10, "d": -1.5E-3, "e": 12345678901234567890123, "f": 1e400}`,
	`{"a": 01}`, `{"a": 1.}`, `{"a": .5}`, `{"a": -}`, `{"a": 1e}`, `{"a": 1e+}`, `{"a": +1}`, `{"a": 0x1}`, `{"a": NaN}`,
	`{"a": tru}`, `{"a": truex}`, `{"a": nul}`, `{"a": false, "b": true, "c": null}`,
	`{"a": "\n"}`, "{\"a\": \"\n\"}", "{\"a\": \"\t\"}", `{"a": "\u12"}`, `{"a": "\u12G4"}`, `{"a": "\u1234"}`, `{"a": "\x"}`, `{"a": "\/"}`,
	"{\"a\": \"\xff\xfe\"}", "{\"\xff\": 1}", `{"\u0061": 1}`, `{"a\"b": 1}`, `{"é": 1}`, "{\"a\x7f\": 1}", "{\"a\x00\": 1}",
	`{"a": [1, [2, [3, {"b": [4]}]]]}`, `{"a": [1, 2,]}`, `{"a": {"b": 1,}}`, `{"a": {"b" 1}}`, `{"a": {1: 2}}`, `{"a" 1}`, `{a: 1}`,
	`{"a": 1,}`, `{,}`, `{"a": 1 "b": 2}`, `{"a": [}`, `{"a": {]}`, `{"a": 1`, `{"a": "`, `{"a"`, `{"a":`,
	"\ufeff{}", "{}\x00", `{"a": 1} {"b": 2}`, `{"a": 1}]`,
	`{"deep": ` + nest(70) + `}`, `{"deep": ` + nest(10) + `}`,
}

// nest is a list nested n deep.
func nest(n int) string {
	return string(bytes.Repeat([]byte("["), n)) + string(bytes.Repeat([]byte("]"), n))
}

func TestParseMetaFastPath(t *testing.T) {
	for _, s := range parseMetaCases {
		checkParseMeta(t, []byte(s))
	}
	// The fast path takes the common shapes.
	for _, s := range []string{`{}`, `{"tags": ["a", "b"]}`, `{"tags": ["a"], "version": "2", "owner": {"team": "x"}}`} {
		if _, _, _, ok := scanMeta([]byte(s)); !ok {
			t.Errorf("scanMeta(%s) did not take the fast path", s)
		}
	}
	// The values do not point into the caller's data.
	data := []byte(`{"v": "abc"}`)
	m, err := parseMeta(data)
	if err != nil {
		t.Fatal(err)
	}
	data[7] = 'X'
	if string(m.Extra["v"]) != `"abc"` {
		t.Fatalf("Extra changed with the input: %s", m.Extra["v"])
	}
}

func FuzzParseMetaFastPath(f *testing.F) {
	for _, s := range parseMetaCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParseMeta(t, data) })
}

func TestJoinerIsFilepathJoin(t *testing.T) {
	dirs := []string{"/", ".", "..", "a", "a/b", "/a/b", "/a/b/", "a//b", "./a", "a/./b", "a/../b", "/a/..", "../..", "//a"}
	names := []string{"x", "x.so", "x-meta.json", "plugin.so", ".", "..", "", "a/b", "/x"}
	for _, dir := range dirs {
		j := newJoiner(dir)
		for _, n := range names {
			if got, want := j.join(n), filepath.Join(dir, n); got != want {
				t.Errorf("join(%q, %q) = %q, want %q", dir, n, got, want)
			}
			for _, f := range names {
				if got, want := j.join2(n, f), filepath.Join(dir, n, f); got != want {
					t.Errorf("join2(%q, %q, %q) = %q, want %q", dir, n, f, got, want)
				}
			}
		}
	}
}

var (
	benchSinkMeta   Meta
	benchSinkReason string
)

// BenchmarkParseMeta parses a typical meta.json (see bench_discover_test.go).
func BenchmarkParseMeta(b *testing.B) {
	data := []byte(`{"tags": ["team-1", "tier-2"], "version": "1.1234.0", "description": "benchmark candidate 1234"}`)
	b.ReportAllocs()
	for range b.N {
		m, err := parseMeta(data)
		if err != nil {
			b.Fatal(err)
		}
		benchSinkMeta = m
	}
}

// BenchmarkFilterCheck runs the six filters of benchFilterConfig on one
// candidate.
func BenchmarkFilterCheck(b *testing.B) {
	dir := "/tmp/BenchmarkDiscover/001"
	var white, black []string
	for i := range 16 {
		white = append(white, fmt.Sprintf("%s/p%05d", dir, i*10+7))
		black = append(black, fmt.Sprintf("%s/p%05d", dir, i*10+3))
	}
	f, err := newFilters(Config{WhitelistList: white, WhitelistRE: `.*/p0`, WhitelistTags: []string{"team-1", "team-2", "team-3"},
		BlacklistList: black, BlacklistRE: `.*7$`, BlacklistTags: []string{"tier-0"}})
	if err != nil {
		b.Fatal(err)
	}
	match, tags := dir+"/p01234", []string{"team-1", "tier-2"}
	b.ReportAllocs()
	for range b.N {
		benchSinkReason = f.check(match, tags)
	}
}
