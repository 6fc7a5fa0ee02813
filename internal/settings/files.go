package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/viper"

	"github.com/opa-stack/opa-go/internal/preflight"
)

// settingsExts are the settings file types LoadConfig reads.
var settingsExts = []string{".yaml", ".yml", ".json", ".toml"}

// Dir is the settings directory: OPA_SETTINGS_DIR of env, or DefaultDir
// when it is unset or empty.
func Dir(env map[string]string) string {
	if d := env[envSettingsDir]; d != "" {
		return d
	}
	return DefaultDir
}

// settingsFiles lists the settings files of dir in the order they apply:
// every *.yaml, *.yml, *.json and *.toml (not recursive, hidden names
// skipped), sorted by name, those with ".local." in the name after all
// others. A missing dir has no files; any other failure to list it, or an
// error of check (when not nil) on an existing dir, is a *Error naming it.
func settingsFiles(dir string, check func(string) error) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{Source: dir, Err: fmt.Errorf("cannot read the settings directory: %w", err)}
	}
	if check != nil {
		if err := check(dir); err != nil {
			return nil, &Error{Source: dir, Err: err}
		}
	}
	var plain, local []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !slices.Contains(settingsExts, filepath.Ext(name)) {
			continue
		}
		if strings.Contains(name, ".local.") {
			local = append(local, name)
		} else {
			plain = append(plain, name)
		}
	}
	slices.Sort(plain)
	slices.Sort(local)
	var out []string
	for _, name := range append(plain, local...) {
		out = append(out, filepath.Join(dir, name))
	}
	return out, nil
}

// readSettingsFile parses one settings file with a fresh viper and returns
// its top-level map as the file spells it (fileSections normalizes each
// section). An unreadable or invalid file is a *Error naming it.
//
// The map is taken from the decoder (see captureDecoders), not from the
// viper: AllSettings would drop empty maps (so "OPTS: {}" could not clear a
// lower layer's), split keys holding dots, and fold keys that differ only in
// case silently, where LoadConfig reports them.
//
// The file is read as a plugin's meta.json is (preflight.ReadFile): a named
// pipe in its place is refused rather than waited on, and one of more than
// MaxFileSize bytes is refused unread. viper then parses the bytes read,
// by the type its name gives.
func readSettingsFile(path string) (map[string]any, error) {
	data, err := preflight.ReadFile(path, "a settings file", MaxFileSize)
	if err != nil {
		return nil, &Error{Source: path, Err: fmt.Errorf("cannot read settings file: %w", err)}
	}
	dec := &captureDecoders{}
	v := viper.NewWithOptions(viper.WithDecoderRegistry(dec))
	v.SetConfigType(strings.TrimPrefix(filepath.Ext(path), "."))
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, &Error{Source: path, Err: fmt.Errorf("cannot read settings file: %w", err)}
	}
	return dec.raw, nil
}

// MaxFileSize is the most bytes a settings file may have: a cap so that a
// wrong or growing file is never read into memory whole.
const MaxFileSize = 16 << 20

// captureDecoders is a viper DecoderRegistry that keeps, in raw, what the
// last decoding produced, before viper lower-cases it. JSON is decoded with
// exact numbers, so integers are int as in YAML and TOML.
type captureDecoders struct {
	raw map[string]any
}

// Decoder implements viper.DecoderRegistry.
func (c *captureDecoders) Decoder(format string) (viper.Decoder, error) {
	if strings.EqualFold(format, "json") {
		return captureFunc(func(b []byte) error {
			v, err := ParseJSON(string(b))
			if err != nil {
				return err
			}
			m, ok := v.(map[string]any)
			if !ok && v != nil {
				return errors.New("the top level is not an object")
			}
			c.raw = m
			return nil
		}), nil
	}
	d, err := viper.NewCodecRegistry().Decoder(format)
	if err != nil {
		return nil, err
	}
	return captureFunc(func(b []byte) error {
		raw := map[string]any{}
		if err := d.Decode(b, raw); err != nil {
			return err
		}
		c.raw = raw
		return nil
	}), nil
}

// captureFunc is a viper.Decoder that leaves viper's own map empty.
type captureFunc func(b []byte) error

// Decode implements viper.Decoder.
func (f captureFunc) Decode(b []byte, _ map[string]any) error { return f(b) }

// fileSections applies a settings file's environments to l, in dynaconf's
// order: the "default" section, then the one named env, then "global"
// (each once, if env is one of the others). Other top-level keys are
// ignored. A section (or the whole file) holding "dynaconf_merge: true"
// merges each of its keys into lower layers as if each held the marker.
func fileSections(l *Settings, path string, file map[string]any, env string) error {
	marker, err := topLevel(path, file, mergeMarker)
	if err != nil {
		return err
	}
	fileMerge := marker == true
	var done []string
	for _, name := range []string{"default", env, "global"} {
		if slices.Contains(done, name) {
			continue
		}
		done = append(done, name)
		source := fmt.Sprintf("%s [%s]", path, name)
		raw, err := topLevel(path, file, name)
		if err != nil {
			return err
		}
		v, err := normalizeValue(raw, nil)
		if err != nil {
			return WithSource(err, source)
		}
		switch sec := v.(type) {
		case nil:
		case map[string]any:
			merge := fileMerge || sec[mergeMarker] == true
			for _, k := range slices.Sorted(maps.Keys(sec)) {
				if k != mergeMarker {
					l.set([]string{k}, sec[k], source, merge)
				}
			}
		default:
			return &Error{Source: source, Err: fmt.Errorf("the section is %s, not a map of settings", TypeName(sec))}
		}
	}
	return nil
}

// topLevel returns the value of a file's top-level key, compared
// case-insensitively; two keys that match are an error.
func topLevel(path string, file map[string]any, key string) (any, error) {
	var found string
	var v any
	for _, k := range slices.Sorted(maps.Keys(file)) {
		if !strings.EqualFold(k, key) {
			continue
		}
		if found != "" {
			return nil, &Error{Source: path, Key: KeyName([]string{key}), Err: fmt.Errorf("keys %q and %q differ only in case; keys are case-insensitive, keep one", found, k)}
		}
		found, v = k, file[k]
	}
	return v, nil
}
