package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSectionWarnings(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		env   string // ENV; empty: unset
		want  []string
	}{
		{
			name:  "ENV names no section: did you mean the one it starts",
			files: map[string]string{"a.yaml": "default: {}\nproduction: {}\n"},
			env:   "prod",
			want:  []string{"ENV=prod: no settings file has a section prod; sections are default, production (did you mean production?)"},
		},
		{
			name:  "a misspelt section",
			files: map[string]string{"a.yaml": "default: {}\nprodution: {PLUGIN_PATHS: [x]}\n"},
			want:  []string{"A.yaml: section prodution applies only under ENV=prodution: it is not default, global, the current ENV section (development) nor one of development, production, staging, testing (did you mean production?)"},
		},
		{
			name:  "ENV's own section, usual environments, default and global: nothing to say",
			files: map[string]string{"a.yaml": "default: {}\nqa: {}\nproduction: {}\nglobal: {}\ndynaconf_merge: true\n", "b.json": `{"staging": {}}`},
			env:   "QA",
		},
		{
			name:  "ENV unset and no development section: the default ENV is not warned about",
			files: map[string]string{"a.yaml": "default: {}\n"},
		},
		{name: "no files, nothing to say", env: "prod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
			}
			env := map[string]string{envSettingsDir: dir}
			if tc.env != "" {
				env[envEnvironment] = tc.env
			}
			l, err := Load(nil, env, nil)
			require.NoError(t, err)
			want := tc.want
			for i := range want {
				want[i] = strings.Replace(want[i], "A.yaml", filepath.Join(dir, "a.yaml"), 1)
			}
			assert.Equal(t, want, l.SectionWarnings(env))
		})
	}
}
