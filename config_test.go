package opa

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeSettings makes a settings directory holding files (name → content).
// The variables LoadConfig reads, spelled once for the tests.
const (
	envSettingsDir = "OPA_SETTINGS_DIR"
	envPrefix      = "OPA_"
	envEnvironment = "ENV"
)

func writeSettings(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// loadWith runs LoadConfig on a fresh viper with a settings directory
// holding files and an environment holding only env ("NAME=VALUE"), so
// nothing of the real environment leaks in.
func loadWith(t *testing.T, files map[string]string, env ...string) (Config, error) {
	t.Helper()
	dir := writeSettings(t, files)
	return loadConfig(nil, append([]string{envSettingsDir + "=" + dir}, env...))
}

func TestLoadConfigNoConfig(t *testing.T) {
	t.Run("empty settings dir", func(t *testing.T) {
		c, err := loadWith(t, nil)
		require.NoError(t, err)
		assert.Equal(t, Config{}, c)
	})
	t.Run("missing settings dir", func(t *testing.T) {
		c, err := loadConfig(nil, []string{envSettingsDir + "=" + filepath.Join(t.TempDir(), "nope")})
		require.NoError(t, err)
		assert.Equal(t, Config{}, c)
	})
	t.Run("files without the environment's sections", func(t *testing.T) {
		c, err := loadWith(t, map[string]string{"a.yaml": "production:\n  PLUGIN_PATHS: [/p]\n"})
		require.NoError(t, err)
		assert.Equal(t, Config{}, c)
	})
}

// The original opa-stack config tests.
func TestLoadConfigOriginalCases(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		env   string
		want  []string
	}{
		{
			name: "later file merges with dynaconf_merge",
			files: map[string]string{
				"a.yaml": "testing_1:\n  PLUGIN_PATHS: [a]\n",
				"b.yaml": "testing_1:\n  PLUGIN_PATHS: [b, dynaconf_merge]\n",
			},
			env:  "testing_1",
			want: []string{"a", "b"},
		},
		{
			name: "later file replaces without the marker",
			files: map[string]string{
				"a.yaml": "testing_1:\n  PLUGIN_PATHS: [a]\n",
				"b.yaml": "testing_1:\n  PLUGIN_PATHS: [b]\n",
			},
			env:  "testing_1",
			want: []string{"b"},
		},
		{
			name:  "environment section merges over default",
			files: map[string]string{"settings.yaml": "default:\n  PLUGIN_PATHS: []\ndev:\n  PLUGIN_PATHS: [demo, dynaconf_merge]\n"},
			env:   "dev",
			want:  []string{"demo"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadWith(t, tc.files, "ENV="+tc.env)
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.PluginPaths)
		})
	}
}

func TestLoadConfigFiles(t *testing.T) {
	section := func(p string) string { return "development:\n  PLUGIN_PATHS: [" + p + ", dynaconf_merge]\n" }
	t.Run("sorted by name, local files last, others ignored", func(t *testing.T) {
		c, err := loadWith(t, map[string]string{
			"b.yaml":         section("b"),
			"a.json":         `{"development": {"PLUGIN_PATHS": ["a", "dynaconf_merge"]}}`,
			"c.toml":         "[development]\nPLUGIN_PATHS = [\"c\", \"dynaconf_merge\"]\n",
			"d.yml":          section("d"),
			"a.local.yaml":   section("a.local"),
			"0.local.yml":    section("0.local"),
			"notes.txt":      section("txt"),
			".hidden.yaml":   section("hidden"),
			"sub/e.yaml":     section("sub"),
			"settings.YAML":  section("upper-case extension"),
			"settings.yaml~": section("backup"),
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "b", "c", "d", "0.local", "a.local"}, c.PluginPaths)
	})
	formats := map[string]string{
		"x.yaml": "development:\n  PLUGIN_DEFAULT_PATH: /d\n  PLUGIN_WHITELIST_TAGS: [t1, t2]\n  OPTIONAL_COMPONENTS:\n    Redis: {LOAD: no}\n",
		"x.yml":  "development:\n  plugin_default_path: /d\n  plugin_whitelist_tags: [t1, t2]\n  optional_components: {redis: {load: false}}\n",
		"x.json": `{"DEVELOPMENT": {"PLUGIN_DEFAULT_PATH": "/d", "PLUGIN_WHITELIST_TAGS": ["t1", "t2"], "OPTIONAL_COMPONENTS": {"REDIS": {"LOAD": "NO"}}}}`,
		"x.toml": "[development]\nPLUGIN_DEFAULT_PATH = \"/d\"\nPLUGIN_WHITELIST_TAGS = [\"t1\", \"t2\"]\n[development.OPTIONAL_COMPONENTS.redis]\nLOAD = \"no\"\n",
	}
	for name, content := range formats {
		t.Run("reads "+filepath.Ext(name), func(t *testing.T) {
			c, err := loadWith(t, map[string]string{name: content})
			require.NoError(t, err)
			assert.Equal(t, Config{
				DefaultPluginPath:  "/d",
				WhitelistTags:      []string{"t1", "t2"},
				OptionalComponents: map[string]ComponentConfig{"redis": {Load: "no"}},
			}, c)
		})
	}
	t.Run("keys holding dots stay whole", func(t *testing.T) {
		c, err := loadWith(t, map[string]string{"a.yaml": "development:\n  OPTIONAL_COMPONENTS:\n    db:\n      DRIVER: sql\n      OPTS: {a.b: 1}\n"})
		require.NoError(t, err)
		assert.Equal(t, Options{"a.b": 1}, c.OptionalComponents["db"].Opts)
	})
	t.Run("an empty map replaces", func(t *testing.T) {
		c, err := loadWith(t, map[string]string{
			"a.yaml": "development:\n  OPTIONAL_COMPONENTS: {db: {DRIVER: sql}}\n",
			"b.yaml": "development:\n  OPTIONAL_COMPONENTS: {}\n",
		})
		require.NoError(t, err)
		assert.Empty(t, c.OptionalComponents)
	})
}

func TestLoadConfigSections(t *testing.T) {
	// Each section sets the default path and appends its name to the tags.
	sec := func(name string) string {
		return name + ":\n  PLUGIN_DEFAULT_PATH: /" + name + "\n  PLUGIN_WHITELIST_TAGS: [" + name + ", dynaconf_merge]\n"
	}
	file := sec("global") + sec("production") + sec("development") + sec("default") + sec("other")
	tests := []struct {
		name     string
		files    map[string]string
		env      []string
		wantPath string
		wantTags []string
	}{
		{"ENV unset means development", map[string]string{"a.yaml": file}, nil, "/global", []string{"default", "development", "global"}},
		{"ENV empty means development", map[string]string{"a.yaml": file}, []string{"ENV="}, "/global", []string{"default", "development", "global"}},
		{"ENV selects, any case", map[string]string{"a.yaml": file}, []string{"ENV=Production"}, "/global", []string{"default", "production", "global"}},
		{"ENV without a section", map[string]string{"a.yaml": file}, []string{"ENV=staging"}, "/global", []string{"default", "global"}},
		{"ENV=default applies it once", map[string]string{"a.yaml": file}, []string{"ENV=default"}, "/global", []string{"default", "global"}},
		{"section names any case", map[string]string{"a.yaml": "DEFAULT:\n  PLUGIN_WHITELIST_TAGS: [d]\nDevelopment:\n  PLUGIN_DEFAULT_PATH: /dev\n"}, nil, "/dev", []string{"d"}},
		{
			name:     "per file: default, ENV, global, then the next file",
			files:    map[string]string{"a.yaml": sec("default") + sec("development"), "b.yaml": sec("default") + sec("global")},
			wantPath: "/global",
			wantTags: []string{"default", "development", "default", "global"},
		},
		{
			name:     "environment beats default",
			files:    map[string]string{"a.yaml": sec("default") + sec("development")},
			wantPath: "/development",
			wantTags: []string{"default", "development"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadWith(t, tc.files, tc.env...)
			require.NoError(t, err)
			assert.Equal(t, tc.wantPath, c.DefaultPluginPath)
			assert.Equal(t, tc.wantTags, c.WhitelistTags)
		})
	}
}

// The example of issue 12: dynaconf_merge on OPTIONAL_COMPONENTS keeps what
// the lower layer set at every depth.
func TestLoadConfigMergeIsDeep(t *testing.T) {
	files := map[string]string{"settings.yaml": `default:
  OPTIONAL_COMPONENTS: {svc: {LOAD: yes, DRIVER: x, OPTS: {addr: a, name: svc}}}
development:
  OPTIONAL_COMPONENTS: {dynaconf_merge: true, svc: {OPTS: {addr: b}}}
`}
	want := ComponentConfig{Load: "yes", Driver: "x", Opts: Options{"addr": "b", "name": "svc"}}
	c, err := loadWith(t, files)
	require.NoError(t, err)
	assert.Equal(t, want, c.OptionalComponents["svc"], "file marker")

	files = map[string]string{"settings.yaml": "default:\n  OPTIONAL_COMPONENTS: {svc: {LOAD: yes, DRIVER: x, OPTS: {addr: a, name: svc}}}\n"}
	c, err = loadWith(t, files, `OPA_OPTIONAL_COMPONENTS=@merge {"svc": {"opts": {"addr": "b"}}}`)
	require.NoError(t, err)
	assert.Equal(t, want, c.OptionalComponents["svc"], "@merge in a variable")
}

func TestLoadConfigMerge(t *testing.T) {
	base := "development:\n  PLUGIN_PATHS: [a]\n  OPTIONAL_COMPONENTS:\n    redis: {DRIVER: redis, OPTS: {host: h, port: 1, tags: [x]}}\n    mongo: {DRIVER: mongo}\n"
	mongo := ComponentConfig{Load: "auto", Driver: "mongo"}
	tests := []struct {
		name  string
		upper string
		want  Config
	}{
		{
			name:  "no marker replaces",
			upper: "development:\n  PLUGIN_PATHS: [b]\n  OPTIONAL_COMPONENTS: {redis: {DRIVER: r2}}\n",
			want:  Config{PluginPaths: []string{"b"}, OptionalComponents: map[string]ComponentConfig{"redis": {Load: "auto", Driver: "r2"}}},
		},
		{
			name:  "list marker appends, map marker merges all the way down",
			upper: "development:\n  PLUGIN_PATHS: [dynaconf_merge, b]\n  OPTIONAL_COMPONENTS:\n    dynaconf_merge: true\n    redis: {DRIVER: r2}\n",
			want: Config{PluginPaths: []string{"a", "b"}, OptionalComponents: map[string]ComponentConfig{
				"redis": {Load: "auto", Driver: "r2", Opts: Options{"host": "h", "port": 1, "tags": []any{"x"}}},
				"mongo": mongo,
			}},
		},
		{
			// dynaconf's object_merge: maps key by key and lists appended,
			// at every depth below the marker.
			name:  "a marked map merges nested maps and lists without markers of their own",
			upper: "development:\n  OPTIONAL_COMPONENTS:\n    dynaconf_merge: true\n    redis: {LOAD: no, OPTS: {port: 2, tags: [y]}}\n",
			want: Config{PluginPaths: []string{"a"}, OptionalComponents: map[string]ComponentConfig{
				"redis": {Load: "no", Driver: "redis", Opts: Options{"host": "h", "port": 2, "tags": []any{"x", "y"}}},
				"mongo": mongo,
			}},
		},
		{
			name:  "a marked map inside a marked map merges too",
			upper: "development:\n  OPTIONAL_COMPONENTS:\n    dynaconf_merge: true\n    redis: {dynaconf_merge: true, LOAD: no, OPTS: {port: 2}}\n",
			want: Config{PluginPaths: []string{"a"}, OptionalComponents: map[string]ComponentConfig{
				"redis": {Load: "no", Driver: "redis", Opts: Options{"host": "h", "port": 2, "tags": []any{"x"}}},
				"mongo": mongo,
			}},
		},
		{
			name:  "markers at every level",
			upper: "development:\n  OPTIONAL_COMPONENTS:\n    dynaconf_merge: true\n    redis: {dynaconf_merge: true, OPTS: {dynaconf_merge: true, port: 2, tags: [y, dynaconf_merge]}}\n",
			want: Config{PluginPaths: []string{"a"}, OptionalComponents: map[string]ComponentConfig{
				"redis": {Load: "auto", Driver: "redis", Opts: Options{"host": "h", "port": 2, "tags": []any{"x", "y"}}},
				"mongo": mongo,
			}},
		},
		{
			name:  "dynaconf_merge: false replaces",
			upper: "development:\n  OPTIONAL_COMPONENTS: {dynaconf_merge: false, mongo: {DRIVER: m2}}\n",
			want:  Config{PluginPaths: []string{"a"}, OptionalComponents: map[string]ComponentConfig{"mongo": {Load: "auto", Driver: "m2"}}},
		},
		{
			name:  "a section marker merges every key of the section",
			upper: "development:\n  dynaconf_merge: true\n  PLUGIN_PATHS: [b]\n  OPTIONAL_COMPONENTS: {mongo: {LOAD: no}}\n",
			want: Config{PluginPaths: []string{"a", "b"}, OptionalComponents: map[string]ComponentConfig{
				"redis": {Load: "auto", Driver: "redis", Opts: Options{"host": "h", "port": 1, "tags": []any{"x"}}},
				"mongo": {Load: "no", Driver: "mongo"},
			}},
		},
		{
			name:  "a file marker merges every key of every section",
			upper: "dynaconf_merge: true\ndefault:\n  PLUGIN_PATHS: [b]\nglobal:\n  PLUGIN_PATHS: [c]\n",
			want: Config{PluginPaths: []string{"a", "b", "c"}, OptionalComponents: map[string]ComponentConfig{
				"redis": {Load: "auto", Driver: "redis", Opts: Options{"host": "h", "port": 1, "tags": []any{"x"}}},
				"mongo": mongo,
			}},
		},
		{
			name:  "a marked list over a single value",
			upper: "development:\n  PLUGIN_PATHS: [b, dynaconf_merge]\n",
			want: Config{PluginPaths: []string{"a", "b"}, OptionalComponents: map[string]ComponentConfig{
				"redis": {Load: "auto", Driver: "redis", Opts: Options{"host": "h", "port": 1, "tags": []any{"x"}}},
				"mongo": mongo,
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lower := base
			if strings.Contains(tc.name, "single value") {
				lower = strings.Replace(base, "[a]", "a", 1)
			}
			c, err := loadWith(t, map[string]string{"a.yaml": lower, "b.yaml": tc.upper})
			require.NoError(t, err)
			assert.Equal(t, tc.want, c)
		})
	}
}
