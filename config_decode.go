package opa

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/settings"
)

// decoder turns the merged settings into a Config. Every error is a
// *ConfigError naming the layer that set the offending value and the key.
type decoder struct {
	l *settings.Settings
}

// fail makes the error for the value at path.
func (d decoder) fail(path []string, err error) error {
	return &ConfigError{Source: d.l.Source(path), Key: settings.KeyName(path), Err: err}
}

// decodeConfig turns the merged settings into a Config (see LoadConfig,
// "Decoding"). A key of the library's namespace that it does not know is an
// error (see checkNamespace); other keys are left alone.
func decodeConfig(l *settings.Settings) (Config, error) {
	if err := checkNamespace(l); err != nil {
		return Config{}, err
	}
	d := decoder{l}
	var c Config
	var err error
	lists := []struct {
		key string
		dst *[]string
	}{
		{"plugin_paths", &c.PluginPaths},
		{"plugin_whitelist_list", &c.WhitelistList},
		{"plugin_whitelist_tags", &c.WhitelistTags},
		{"plugin_blacklist_list", &c.BlacklistList},
		{"plugin_blacklist_tags", &c.BlacklistTags},
	}
	for _, s := range lists {
		if *s.dst, err = d.list(s.key); err != nil {
			return Config{}, err
		}
	}
	strs := []struct {
		key string
		dst *string
	}{
		{"plugin_default_path", &c.DefaultPluginPath},
		{"plugin_whitelist_re", &c.WhitelistRE},
		{"plugin_blacklist_re", &c.BlacklistRE},
		{"plugin_on_error", &c.OnError},
		{"plugin_copy_dir", &c.CopyDir},
	}
	for _, s := range strs {
		if *s.dst, err = d.str(s.key); err != nil {
			return Config{}, err
		}
	}
	for _, re := range [][2]string{{"plugin_whitelist_re", c.WhitelistRE}, {"plugin_blacklist_re", c.BlacklistRE}} {
		key, pattern := re[0], re[1]
		if _, err := compileFilterRE(settings.KeyName([]string{key}), pattern); err != nil {
			return Config{}, withSource(err, l.Source([]string{key}))
		}
	}
	if c.ComponentTimeout, err = d.duration("component_timeout"); err != nil {
		return Config{}, err
	}
	if c.OnError != "" {
		if c.OnError, err = normalizeOnError(c.OnError); err != nil {
			return Config{}, d.fail([]string{"plugin_on_error"}, err)
		}
	}
	bools := []struct {
		key string
		dst *bool
	}{
		{"plugin_allow_insecure_permissions", &c.AllowInsecurePermissions},
		{"plugin_require_sha256", &c.RequireSHA256},
		{"plugin_open_in_place", &c.OpenInPlace},
		{"plugin_ignore_lock", &c.IgnoreLock},
	}
	for _, s := range bools {
		if *s.dst, err = d.boolean(s.key); err != nil {
			return Config{}, err
		}
	}
	if c.PluginSHA256, err = d.stringMap("plugin_sha256"); err != nil {
		return Config{}, err
	}
	for _, name := range slices.Sorted(maps.Keys(c.PluginSHA256)) {
		if _, err := preflight.ParsePin(c.PluginSHA256[name]); err != nil {
			return Config{}, d.fail([]string{"plugin_sha256", name}, err)
		}
	}
	if c.OptionalComponents, err = d.components(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// boolean decodes a yes/no setting: a boolean, or a string such as "true",
// "false", "yes", "no", "1", "0". Nothing or "" is false.
func (d decoder) boolean(key string) (bool, error) {
	if b, ok := parseBool(d.l.Get(key)); ok {
		return b, nil
	}
	return false, d.fail([]string{key}, fmt.Errorf("%s where true or false belongs", settings.TypeName(d.l.Get(key))))
}

// parseBool reads a yes/no setting's value (see boolean); ok is false when
// it is not one.
func parseBool(v any) (b, ok bool) {
	switch v := v.(type) {
	case nil:
		return false, true
	case bool:
		return v, true
	case int:
		if v == 0 || v == 1 {
			return v == 1, true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "false", "no", "0", "off":
			return false, true
		case "true", "yes", "1", "on":
			return true, true
		}
	}
	return false, false
}

// stringMap decodes a map of strings, such as PLUGIN_SHA256: NAME → HEX.
func (d decoder) stringMap(key string) (map[string]string, error) {
	path := []string{key}
	switch v := d.l.Get(key).(type) {
	case nil:
		return nil, nil
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, d.fail(append(path, k), fmt.Errorf("%s where a string belongs", settings.TypeName(e)))
			}
			out[k] = s
		}
		return out, nil
	default:
		return nil, d.fail(path, fmt.Errorf("%s where a map of NAME: VALUE belongs", settings.TypeName(v)))
	}
}

// list decodes a list setting: a list of scalars, each as a string. A
// scalar is a one-element list, and nothing or "" an empty one (nil).
func (d decoder) list(key string) ([]string, error) {
	path := []string{key}
	switch v := d.l.Get(key).(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return []string{v}, nil
	case map[string]any:
		return nil, d.fail(path, errors.New("a map where a list belongs"))
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := scalarString(e)
			if !ok || e == nil {
				return nil, d.fail(path, fmt.Errorf("element %d is %s; list elements must be strings or other scalars", i+1, settings.TypeName(e)))
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	default:
		s, _ := scalarString(v)
		return []string{s}, nil
	}
}

// str decodes a string setting; other scalars are formatted.
func (d decoder) str(path ...string) (string, error) {
	v := d.l.Get(path...)
	s, ok := scalarString(v)
	if !ok {
		return "", d.fail(path, fmt.Errorf("%s where a string belongs", settings.TypeName(v)))
	}
	return s, nil
}

// duration decodes COMPONENT_TIMEOUT: a Go duration ("5s", "1m30s") or a
// number of seconds (5, 2.5, "5"). Nothing or "" is zero.
func (d decoder) duration(key string) (time.Duration, error) {
	path := []string{key}
	var secs float64
	switch v := d.l.Get(key).(type) {
	case nil:
		return 0, nil
	case int:
		secs = float64(v)
	case float64:
		secs = v
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return 0, nil
		}
		if dur, err := time.ParseDuration(s); err == nil {
			if dur < 0 {
				return 0, d.fail(path, errors.New("the timeout must not be negative"))
			}
			return dur, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, d.fail(path, fmt.Errorf("%q is neither a duration (\"5s\", \"1m30s\") nor a number of seconds", v))
		}
		secs = f
	default:
		return 0, d.fail(path, fmt.Errorf("%s where a duration (\"5s\") or a number of seconds belongs", settings.TypeName(v)))
	}
	switch {
	case math.IsNaN(secs) || secs < 0:
		return 0, d.fail(path, errors.New("the timeout must not be negative"))
	case secs > math.MaxInt64/float64(time.Second):
		return 0, d.fail(path, errors.New("the timeout is too long"))
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// components decodes OPTIONAL_COMPONENTS: name → {LOAD, DRIVER, OPTS}.
// Names are lower-case already (see settings.Load); checkNamespace has
// refused unknown keys of an entry.
func (d decoder) components() (map[string]ComponentConfig, error) {
	path := []string{"optional_components"}
	var all map[string]any
	switch v := d.l.Get(path...).(type) {
	case nil:
		return nil, nil
	case string:
		if v != "" {
			return nil, d.fail(path, errors.New("a string where a map of components belongs"))
		}
		return nil, nil
	case map[string]any:
		all = v
	default:
		return nil, d.fail(path, fmt.Errorf("%s where a map of components belongs", settings.TypeName(v)))
	}
	if len(all) == 0 {
		return nil, nil
	}
	out := make(map[string]ComponentConfig, len(all))
	for _, name := range slices.Sorted(maps.Keys(all)) {
		cc, err := d.component(name, all[name])
		if err != nil {
			return nil, err
		}
		out[name] = cc
	}
	return out, nil
}

func (d decoder) component(name string, v any) (ComponentConfig, error) {
	path := []string{"optional_components", name}
	if name == "" {
		return ComponentConfig{}, d.fail(path, errors.New("a component needs a name"))
	}
	entry, ok := v.(map[string]any)
	if !ok && v != nil {
		return ComponentConfig{}, d.fail(path, fmt.Errorf("%s where a map of LOAD, DRIVER and OPTS belongs", settings.TypeName(v)))
	}
	var cc ComponentConfig
	loadPath := append(path[:2:2], "load")
	switch l := entry["load"].(type) {
	case bool:
		cc.Load = map[bool]string{true: "yes", false: "no"}[l]
	case string, nil:
		s, _ := l.(string)
		load, err := normalizeLoad(s)
		if err != nil {
			return cc, d.fail(loadPath, err)
		}
		cc.Load = load
	default:
		return cc, d.fail(loadPath, fmt.Errorf("%s where yes, no or auto belongs", settings.TypeName(l)))
	}
	drvPath := append(path[:2:2], "driver")
	switch drv := entry["driver"].(type) {
	case string:
		cc.Driver = strings.TrimSpace(drv)
	case nil:
	default:
		return cc, d.fail(drvPath, fmt.Errorf("%s where a driver name belongs", settings.TypeName(drv)))
	}
	if cc.Driver == "" && cc.Load != "no" {
		return cc, d.fail(drvPath, fmt.Errorf("no driver given; DRIVER is required unless LOAD is no (LOAD is %s)", cc.Load))
	}
	optsPath := append(path[:2:2], "opts")
	switch o := entry["opts"].(type) {
	case nil:
	case map[string]any:
		cc.Opts = Options(copyValue(o).(map[string]any))
	default:
		// Never quote the value: options hold passwords.
		return cc, d.fail(optsPath, fmt.Errorf("%s where a map of options belongs", settings.TypeName(o)))
	}
	return cc, nil
}

// scalarString formats a scalar setting; ok is false for lists and maps.
// nil is "".
func scalarString(v any) (s string, ok bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case time.Time:
		return x.Format(time.RFC3339Nano), true
	case []any, map[string]any:
		return "", false
	}
	return fmt.Sprint(v), true
}

// copyValue deep-copies the maps and lists of a normalized value, so a
// Config shares nothing with the map LoadConfig writes back into viper.
func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyValue(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = copyValue(e)
		}
		return l
	}
	return v
}

// withSource sets the Source of a *ConfigError that has none, and returns
// err.
func withSource(err error, source string) error {
	if ce, ok := errors.AsType[*ConfigError](err); ok && ce.Source == "" {
		ce.Source = source
	}
	return err
}
