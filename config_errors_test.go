package opa

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfigErrors(t *testing.T) {
	dev := func(yaml string) map[string]string {
		return map[string]string{"a.yaml": "development:\n" + indent(yaml)}
	}
	tests := []struct {
		name   string
		files  map[string]string
		dirs   []string // made inside the settings directory
		env    []string
		source string // the end of ConfigError.Source ("" when it is the settings dir)
		key    string
		msg    string // in the message
	}{
		{name: "unreadable file", dirs: []string{"x.yaml"}, source: "x.yaml", msg: "cannot read settings file"},
		{name: "invalid YAML", files: map[string]string{"a.yaml": "development: [\n"}, source: "a.yaml", msg: "yaml"},
		{name: "invalid JSON", files: map[string]string{"a.json": `{"development": }`}, source: "a.json", msg: "invalid JSON"},
		{name: "JSON that is not an object", files: map[string]string{"a.json": `[1]`}, source: "a.json", msg: "not an object"},
		{name: "invalid TOML", files: map[string]string{"a.toml": "[development\n"}, source: "a.toml", msg: "toml"},
		{name: "section names differing in case", files: map[string]string{"a.yaml": "Global: {}\nGLOBAL: {}\n"}, source: "a.yaml", key: "GLOBAL", msg: "differ only in case"},
		{name: "a section that is not a map", files: map[string]string{"a.yaml": "development: [a]\n"}, source: "a.yaml [development]", msg: "not a map"},
		{name: "a list where a string belongs", files: dev("PLUGIN_WHITELIST_RE: [a, b]\n"), source: "a.yaml [development]", key: "PLUGIN_WHITELIST_RE", msg: "a list where a string belongs"},
		{name: "a map where a string belongs", files: dev("PLUGIN_DEFAULT_PATH: {a: b}\n"), source: "a.yaml [development]", key: "PLUGIN_DEFAULT_PATH", msg: "a map where a string belongs"},
		{name: "a map where a list belongs", files: dev("PLUGIN_PATHS: {a: b}\n"), source: "a.yaml [development]", key: "PLUGIN_PATHS", msg: "a map where a list belongs"},
		{name: "a list in a list", files: dev("PLUGIN_PATHS: [a, [b]]\n"), source: "a.yaml [development]", key: "PLUGIN_PATHS", msg: "element 2 is a list"},
		{name: "a null in a list", files: dev("PLUGIN_PATHS: [a, null]\n"), source: "a.yaml [development]", key: "PLUGIN_PATHS", msg: "element 2 is null"},
		{name: "invalid regex in a file", files: dev("PLUGIN_BLACKLIST_RE: '('\n"), source: "a.yaml [development]", key: "PLUGIN_BLACKLIST_RE", msg: "invalid regular expression"},
		{name: "invalid regex in a variable", env: []string{"OPA_PLUGIN_WHITELIST_RE=a[b"}, source: "env OPA_PLUGIN_WHITELIST_RE", key: "PLUGIN_WHITELIST_RE", msg: `"a[b"`},
		{name: "unknown LOAD", files: dev("OPTIONAL_COMPONENTS: {Redis: {LOAD: maybe, DRIVER: r}}\n"), source: "a.yaml [development]", key: "OPTIONAL_COMPONENTS.REDIS.LOAD", msg: `"maybe"`},
		{name: "LOAD of the wrong type", env: []string{"OPA_OPTIONAL_COMPONENTS__REDIS__LOAD=1"}, source: "env OPA_OPTIONAL_COMPONENTS__REDIS__LOAD", key: "OPTIONAL_COMPONENTS.REDIS.LOAD", msg: "an integer"},
		{name: "missing DRIVER", env: []string{"OPA_OPTIONAL_COMPONENTS__REDIS__LOAD=yes"}, source: "env OPA_OPTIONAL_COMPONENTS__REDIS__LOAD", key: "OPTIONAL_COMPONENTS.REDIS.DRIVER", msg: "DRIVER is required"},
		{name: "DRIVER not a string", files: dev("OPTIONAL_COMPONENTS: {redis: {DRIVER: [r]}}\n"), source: "a.yaml [development]", key: "OPTIONAL_COMPONENTS.REDIS.DRIVER", msg: "a list"},
		{name: "OPTS not a map", files: dev("OPTIONAL_COMPONENTS: {redis: {DRIVER: r, OPTS: hunter2secret}}\n"), source: "a.yaml [development]", key: "OPTIONAL_COMPONENTS.REDIS.OPTS", msg: "a string where a map of options belongs"},
		{name: "a component that is not a map", files: dev("OPTIONAL_COMPONENTS: {redis: yes}\n"), source: "a.yaml [development]", key: "OPTIONAL_COMPONENTS.REDIS", msg: "a string"},
		{name: "components that are not a map", env: []string{"OPA_OPTIONAL_COMPONENTS=redis"}, source: "env OPA_OPTIONAL_COMPONENTS", key: "OPTIONAL_COMPONENTS", msg: "a map of components"},
		{name: "component names differing in case in a file", files: dev("OPTIONAL_COMPONENTS:\n  Redis: {DRIVER: r}\n  redis: {DRIVER: r}\n"), source: "a.yaml [development]", key: "OPTIONAL_COMPONENTS.REDIS", msg: "differ only in case"},
		{name: "component names differing in case in a variable", env: []string{`OPA_OPTIONAL_COMPONENTS={"A": {"load": "no"}, "a": {"load": "no"}}`}, source: "env OPA_OPTIONAL_COMPONENTS", key: "OPTIONAL_COMPONENTS.A", msg: "differ only in case"},
		{name: "invalid JSON in a variable", env: []string{`OPA_PLUGIN_PATHS=["/a",`}, source: "env OPA_PLUGIN_PATHS", key: "PLUGIN_PATHS", msg: "invalid JSON"},
		{name: "invalid JSON after @merge", env: []string{`OPA_OPTIONAL_COMPONENTS__X__OPTS=@merge {secret`}, source: "env OPA_OPTIONAL_COMPONENTS__X__OPTS", key: "OPTIONAL_COMPONENTS.X.OPTS", msg: "invalid JSON"},
		{name: "an empty key in a variable name", env: []string{"OPA_OPTIONAL_COMPONENTS____LOAD=no"}, source: "env OPA_OPTIONAL_COMPONENTS____LOAD", msg: "empty key"},
		{name: "a negative timeout", env: []string{"OPA_COMPONENT_TIMEOUT=-1s"}, source: "env OPA_COMPONENT_TIMEOUT", key: "COMPONENT_TIMEOUT", msg: "negative"},
		{name: "a bad timeout", files: dev("COMPONENT_TIMEOUT: soon\n"), source: "a.yaml [development]", key: "COMPONENT_TIMEOUT", msg: `"soon"`},
		{name: "a timeout of the wrong type", files: dev("COMPONENT_TIMEOUT: [1]\n"), source: "a.yaml [development]", key: "COMPONENT_TIMEOUT", msg: "a list"},
		{name: "a huge timeout", env: []string{"OPA_COMPONENT_TIMEOUT=1e300"}, source: "env OPA_COMPONENT_TIMEOUT", key: "COMPONENT_TIMEOUT", msg: "too long"},
		{
			name:   "the source is the layer that set the bad value",
			files:  dev("OPTIONAL_COMPONENTS: {redis: {LOAD: maybe, DRIVER: r}}\n"),
			env:    []string{"OPA_OPTIONAL_COMPONENTS__MONGO__LOAD=no", "OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__X=1"},
			source: "a.yaml [development]", key: "OPTIONAL_COMPONENTS.REDIS.LOAD", msg: "maybe",
		},
		{
			name:   "a later layer takes the blame for what it replaced",
			files:  dev("OPTIONAL_COMPONENTS: {redis: {LOAD: yes, DRIVER: r}}\n"),
			env:    []string{`OPA_OPTIONAL_COMPONENTS__REDIS={"load": "yes"}`},
			source: "env OPA_OPTIONAL_COMPONENTS__REDIS", key: "OPTIONAL_COMPONENTS.REDIS.DRIVER", msg: "required",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeSettings(t, tc.files)
			for _, d := range tc.dirs {
				require.NoError(t, os.Mkdir(filepath.Join(dir, d), 0o755))
			}
			_, err := loadConfig(nil, append([]string{envSettingsDir + "=" + dir}, tc.env...))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrConfig)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want a *ConfigError, got %T", err)
			assert.True(t, strings.HasSuffix(ce.Source, tc.source), "source %q does not end in %q", ce.Source, tc.source)
			assert.Equal(t, tc.key, ce.Key)
			assert.Contains(t, err.Error(), tc.source)
			assert.Contains(t, err.Error(), tc.key)
			assert.Contains(t, err.Error(), tc.msg)
			assert.NotContains(t, err.Error(), "hunter2", "an OPTS value is quoted")
			assert.NotContains(t, err.Error(), "secret", "an OPTS value is quoted")
		})
	}
}

func TestLoadConfigSettingsDirErrors(t *testing.T) {
	t.Run("a settings dir that is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "settings")
		require.NoError(t, os.WriteFile(f, nil, 0o644))
		_, err := loadConfig(nil, []string{envSettingsDir + "=" + f})
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), f)
	})
}
