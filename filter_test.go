package opa

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilters(t *testing.T) {
	const match = "/data/opa/demo-plugins/demo_util"
	tags := []string{"demo", "util"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" means the plugin loads
	}{
		{"nothing set: everything loads", Config{}, ""},

		{"whitelist list: in", Config{WhitelistList: []string{"/x", match}}, ""},
		{"whitelist list: not in", Config{WhitelistList: []string{"/x"}}, "not in PLUGIN_WHITELIST_LIST"},
		{"whitelist list: no substring match", Config{WhitelistList: []string{match + "s", "/data/opa"}}, "not in PLUGIN_WHITELIST_LIST"},

		{"whitelist re: matches at the start", Config{WhitelistRE: "/data/opa/demo"}, ""},
		{"whitelist re: not anchored at the end", Config{WhitelistRE: ".*demo"}, ""},
		{"whitelist re: anchored at the start", Config{WhitelistRE: "demo_util"}, "does not match PLUGIN_WHITELIST_RE"},
		{"whitelist re: alternation stays anchored", Config{WhitelistRE: "x|demo_util"}, "does not match PLUGIN_WHITELIST_RE"},

		{"whitelist tags: one in common", Config{WhitelistTags: []string{"util", "web"}}, ""},
		{"whitelist tags: none in common", Config{WhitelistTags: []string{"web"}}, "no tag in PLUGIN_WHITELIST_TAGS"},

		{"blacklist list: in", Config{BlacklistList: []string{match}}, "in PLUGIN_BLACKLIST_LIST"},
		{"blacklist list: not in", Config{BlacklistList: []string{"/data/opa/demo-plugins"}}, ""},

		{"blacklist re: matches at the start", Config{BlacklistRE: "/data/opa/demo-plugins/demo_"}, "matches PLUGIN_BLACKLIST_RE"},
		{"blacklist re: does not match at the start", Config{BlacklistRE: "demo_util"}, ""},

		{"blacklist tags: one in common", Config{BlacklistTags: []string{"util"}}, "has a tag in PLUGIN_BLACKLIST_TAGS"},
		{"blacklist tags: none in common", Config{BlacklistTags: []string{"web"}}, ""},

		{"every check that is set must pass", Config{WhitelistRE: "/data", BlacklistTags: []string{"demo"}}, "has a tag in PLUGIN_BLACKLIST_TAGS"},
		{"every failed check is named", Config{WhitelistList: []string{"/x"}, BlacklistRE: "/"}, "not in PLUGIN_WHITELIST_LIST; matches PLUGIN_BLACKLIST_RE"},
		{"all six set and passing", Config{
			WhitelistList: []string{match}, WhitelistRE: "/data", WhitelistTags: []string{"demo"},
			BlacklistList: []string{"/x"}, BlacklistRE: "/x", BlacklistTags: []string{"x"},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := newFilters(tc.cfg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, f.check(match, tags))
		})
	}
}

func TestFilterTagsOfAPluginWithoutTags(t *testing.T) {
	f, err := newFilters(Config{WhitelistTags: []string{"demo"}})
	require.NoError(t, err)
	assert.Equal(t, "no tag in PLUGIN_WHITELIST_TAGS", f.check("/p/x", nil))
	f, err = newFilters(Config{BlacklistTags: []string{"demo"}})
	require.NoError(t, err)
	assert.Empty(t, f.check("/p/x", nil))
}

func TestFilterInvalidRegexNamesTheSetting(t *testing.T) {
	for _, setting := range []string{"PLUGIN_WHITELIST_RE", "PLUGIN_BLACKLIST_RE"} {
		t.Run(setting, func(t *testing.T) {
			cfg := Config{}
			if setting == "PLUGIN_WHITELIST_RE" {
				cfg.WhitelistRE = "demo_("
			} else {
				cfg.BlacklistRE = "demo_("
			}
			_, err := newFilters(cfg)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrConfig))
			assert.Contains(t, err.Error(), setting)
			assert.Contains(t, err.Error(), `"demo_("`)
			assert.NotContains(t, err.Error(), "^(?:", "the operator sees their own pattern")

			_, err = New(WithConfig(cfg))
			assert.True(t, errors.Is(err, ErrConfig), "New refuses it too: %v", err)
		})
	}
}

// TestDecisions runs discovery and filters through a Manager, with compiled-in
// plugins that load and .so placeholders that every case filters out (a
// placeholder is never opened: opening one would fail the test).
func TestDecisions(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "p/skipme.so", "p/skipme-meta.json", "p/shadow.so", "p/broken/plugin.so", "p/broken/meta.json")
	writeFile(t, root+"/p/skipme-meta.json", `{"tags": ["x"]}`)
	writeFile(t, root+"/p/broken/meta.json", `{"tags": "oops"}`)
	base := Config{
		PluginPaths:       []string{root + "/p"},
		DefaultPluginPath: root + "/default",
		BlacklistRE:       root + "/p/",
		OnError:           "skip", // broken's meta.json is an error even though the blacklist drops it
	}
	opts := []Option{
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithPlugin("shadow", Plugin{}),
		WithPlugin("kept", Plugin{Tasks: []Task{{Kind: "kept.job", Run: func(context.Context, json.RawMessage) error { return nil }}}}, "web"),
	}

	m, err := New(append(opts, WithConfig(base))...)
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(t.Context()))
	rep := m.Report()
	got := map[string]string{}
	for _, p := range rep.Plugins {
		key := p.Path
		if p.Builtin {
			key += " [builtin]"
		}
		got[key] = p.Reason
		if p.Reason == "" {
			assert.True(t, p.Loaded, p.Name)
		}
	}
	assert.Equal(t, map[string]string{
		root + "/p/broken":                 `opa: plugin broken (` + root + `/p/broken): meta: meta file ` + root + `/p/broken/meta.json: "tags" must be a list of strings, got a string`,
		root + "/p/shadow":                 "matches PLUGIN_BLACKLIST_RE",
		root + "/p/skipme":                 "matches PLUGIN_BLACKLIST_RE",
		root + "/default/kept [builtin]":   "",
		root + "/default/shadow [builtin]": "shadowed by " + root + "/p/shadow",
	}, got)
	assert.Equal(t, []string{"x"}, rep.Plugins[2].Tags, "tags are read for the report even when filtered")

	// With PLUGIN_ON_ERROR=fail a broken meta.json fails Startup, naming the
	// file, whether or not a filter drops the plugin.
	cfg := base
	cfg.OnError = ""
	m, err = New(append(opts, WithConfig(cfg))...)
	require.NoError(t, err)
	err = m.StartupSimple(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "opa: plugin broken ("+root+"/p/broken): meta: meta file "+root+"/p/broken/meta.json")
	var perr *PluginError
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, "meta", perr.Step)

	// Compiled-in plugins are filtered like any other, by their default-path match string and tags.
	cfg = base
	cfg.WhitelistTags = []string{"web"}
	m, err = New(append(opts, WithConfig(cfg))...)
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(t.Context()))
	assert.Equal(t, map[string]bool{
		"broken": false, "shadow": false, "skipme": false,
		"kept (builtin)": true, "shadow (builtin)": false,
	}, loadedByName(m.Report()), "only the compiled-in plugin tagged web loads")
	assert.Equal(t, []string{"kept"}, m.TaskCandidates(), "kept declares a task")
	cfg.BlacklistList = []string{root + "/default/kept"}
	m, err = New(append(opts, WithConfig(cfg))...)
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(t.Context()))
	assert.Empty(t, m.TaskCandidates(), "kept, blacklisted by its default-path match string, is no task candidate")
	assert.Equal(t, map[string]bool{
		"broken": false, "shadow": false, "skipme": false,
		"kept (builtin)": false, "shadow (builtin)": false,
	}, loadedByName(m.Report()), "nothing loads")
}

// loadedByName maps the name of every plugin in rep (NAME (builtin) for a
// compiled-in one) to whether it loaded.
func loadedByName(rep Report) map[string]bool {
	out := map[string]bool{}
	for _, p := range rep.Plugins {
		key := p.Name
		if p.Builtin {
			key += " (builtin)"
		}
		out[key] = p.Loaded
	}
	return out
}

// TestFilterNamingAPluginByName: a LIST or RE filter written with a bare
// plugin name still decides on the match string (as opa-stack), and the
// report says why it did not do what it seems to say: in the reason of a
// plugin a whitelist dropped, in the note and a WARN line of one a
// blacklist did not drop. A filter that names the match string, or names
// neither, gets no note.
func TestFilterNamingAPluginByName(t *testing.T) {
	const match = "/d/hello"
	for _, tc := range []struct {
		name   string
		cfg    Config
		reason string // "" means the plugin loads
		note   string
		detail string // the report page's "by ..." under the badge, if not ""
	}{
		{name: "whitelist list by name", cfg: Config{WhitelistList: []string{"hello"}},
			reason: `not in PLUGIN_WHITELIST_LIST. PLUGIN_WHITELIST_LIST lists the plugin's name "hello", not its match string "/d/hello"`},
		{name: "whitelist re by name", cfg: Config{WhitelistRE: "hel"},
			reason: `does not match PLUGIN_WHITELIST_RE. PLUGIN_WHITELIST_RE matches the plugin's name "hello", not its match string "/d/hello" (from its start)`},
		{name: "both whitelists by name, each explained", cfg: Config{WhitelistList: []string{"hello"}, WhitelistRE: "hello"},
			reason: `not in PLUGIN_WHITELIST_LIST; does not match PLUGIN_WHITELIST_RE. PLUGIN_WHITELIST_LIST lists the plugin's name "hello", not its match string "/d/hello". PLUGIN_WHITELIST_RE matches the plugin's name "hello", not its match string "/d/hello" (from its start)`,
			detail: "by PLUGIN_WHITELIST_LIST, PLUGIN_WHITELIST_RE"},
		{name: "whitelist list of other names", cfg: Config{WhitelistList: []string{"other"}}, reason: "not in PLUGIN_WHITELIST_LIST"},
		{name: "blacklist list by name", cfg: Config{BlacklistList: []string{"hello"}},
			note: `PLUGIN_BLACKLIST_LIST lists the plugin's name "hello", not its match string "/d/hello", so it did not apply`},
		{name: "blacklist re by name", cfg: Config{BlacklistRE: "h.*o$"},
			note: `PLUGIN_BLACKLIST_RE matches the plugin's name "hello", not its match string "/d/hello" (from its start), so it did not apply`},
		{name: "blacklist by match string", cfg: Config{BlacklistList: []string{match, "hello"}}, reason: "in PLUGIN_BLACKLIST_LIST"},
		{name: "blacklist of other names", cfg: Config{BlacklistList: []string{"other"}, BlacklistRE: "other"}},
		{name: "whitelist by match string", cfg: Config{WhitelistList: []string{match}, WhitelistRE: "/d/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			cfg := tc.cfg
			cfg.DefaultPluginPath = "/d"
			m, err := New(WithConfig(cfg), WithLogger(slog.New(slog.NewTextHandler(&log, nil))), WithPlugin("hello", Plugin{}))
			require.NoError(t, err)
			require.NoError(t, m.StartupSimple(t.Context()))
			rep := m.Report()
			require.Len(t, rep.Plugins, 1)
			p := rep.Plugins[0]
			assert.Equal(t, tc.reason, p.Reason)
			assert.Equal(t, tc.reason == "", p.Loaded)
			assert.Equal(t, tc.note, p.Note)
			warned := strings.Contains(log.String(), "opa: a filter names the plugin, not its match string")
			assert.Equal(t, tc.note != "", warned, "a WARN line exactly when there is a note:\n%s", log.String())

			rec := httptest.NewRecorder()
			m.ReportHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?format=html", nil))
			page := html.UnescapeString(rec.Body.String())
			if tc.note != "" {
				assert.Contains(t, page, `<div class="reason note">`+tc.note+`</div>`)
				assert.Contains(t, rep.String(), "loaded; note: "+tc.note)
			}
			if tc.detail != "" {
				assert.Contains(t, page, `<div class="detail">`+tc.detail+`</div>`, "each filter named once")
			}
		})
	}
}

// TestTagFilterTypos: a TAGS filter that names a tag no plugin found has,
// near one that a plugin found has, is a warning in the report (its JSON,
// text and page) and a WARN line, naming both (tags
// compare exactly: the filter decides as written). A tag with none near,
// or one a plugin has, says nothing. The .so placeholders are blacklisted
// by RE, so nothing is opened; their tags are still read.
func TestTagFilterTypos(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "p/notes.so", "p/notes-meta.json")
	writeFile(t, root+"/p/notes-meta.json", `{"tags": ["storage", "web"]}`)
	for _, tc := range []struct {
		name  string
		cfg   Config
		warns []string
	}{
		{"tags that plugins have", Config{WhitelistTags: []string{"web"}, BlacklistTags: []string{"beta"}}, nil},
		{"a typo in a whitelist, listed twice", Config{WhitelistTags: []string{"web", "stroage", "stroage"}},
			[]string{`PLUGIN_WHITELIST_TAGS names the tag "stroage", which no plugin found has (did you mean "storage"? tags compare exactly)`}},
		{"a near tag the filter lists too", Config{WhitelistTags: []string{"storages", "storage"}}, nil},
		{"a case in a blacklist", Config{BlacklistTags: []string{"Beta", "faraway"}},
			[]string{`PLUGIN_BLACKLIST_TAGS names the tag "Beta", which no plugin found has (did you mean "beta"? tags compare exactly)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			cfg := tc.cfg
			cfg.PluginPaths, cfg.DefaultPluginPath, cfg.BlacklistRE = []string{root + "/p"}, root+"/default", root+"/p/"
			m, err := New(WithConfig(cfg), WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))),
				WithPlugin("kept", Plugin{}, "beta"))
			require.NoError(t, err)
			require.NoError(t, m.StartupSimple(t.Context()))
			rep := m.Report()
			assert.Equal(t, tc.warns, rep.Warnings)
			assertWarned(t, log.String(), tc.warns)
			for _, w := range tc.warns {
				assert.Contains(t, rep.String(), "warning: "+w+"\n")
				rec := httptest.NewRecorder()
				m.ReportHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?format=html", nil))
				assert.Contains(t, html.UnescapeString(rec.Body.String()), "<li>warning: "+w+"</li>")
			}
		})
	}
}

// TestFilterREMatchesAsTheRegexp: a PLUGIN_*_RE tested without the regexp
// (a literal with .* before it or $ after it) answers as the regexp
// ^(?:pattern) does, newlines and invalid UTF-8 in the match string
// included; other patterns go to the regexp.
func TestFilterREMatchesAsTheRegexp(t *testing.T) {
	subjects := []string{"", "7", "/p0", "/data/opa/plugins/p01237", "/data/opa/plugins/p01230", "/data/p0/x",
		"demo_util", "/x/demo_util", "a\n/p0", "/p0\n", "a\n7", "7\n", "\n", "ab\xffc/p0", "\xff7", "é/p0", "ÉTÉ",
		"/data/opa/demo-plugins/demo_util", "abcabc", "aBc"}
	for _, tc := range []struct {
		pattern string
		simple  bool
	}{
		{`.*/p0`, true},
		{`.*7$`, true},
		{`.*7\z`, true},
		{`demo_`, true},
		{`/data/opa/demo-plugins/demo_util$`, true},
		{`.*`, true},
		{`.*$`, true},
		{`$`, true},
		{`(?s).*/p0`, true},
		{`(?s).*7$`, true},
		{`.*?/p0`, true},
		{`.*é/p0`, true},
		{`.*abc`, true},
		{`(?i).*abc`, false},
		{`(?m).*7$`, false},
		{`.*\x{FFFD}`, false},
		{`.*a.c`, false},
		{`(.*)/p0`, false},
		{`.*/p[0-9]`, false},
		{`a|b`, false},
		{`^demo`, false},
		{`.+7`, false},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			f, err := newFilterRE("PLUGIN_WHITELIST_RE", tc.pattern)
			require.NoError(t, err)
			assert.Equal(t, tc.simple, f.simple, "tested without the regexp")
			for _, s := range subjects {
				assert.Equal(t, f.re.MatchString(s), f.MatchString(s), "%q on %q", tc.pattern, s)
			}
		})
	}
}

func FuzzFilterRE(f *testing.F) {
	for _, seed := range [][2]string{{`.*/p0`, "/data/p01"}, {`.*7$`, "a\n7"}, {`(?s).*x$`, "\nx"}, {`ab`, "abc"}, {`.*é`, "\xffé"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		re, err := newFilterRE("PLUGIN_WHITELIST_RE", pattern)
		if err != nil || re == nil {
			return
		}
		if got, want := re.MatchString(s), re.re.MatchString(s); got != want {
			t.Fatalf("%q on %q: %v, the regexp says %v (simple %v)", pattern, s, got, want, re.simple)
		}
	})
}
