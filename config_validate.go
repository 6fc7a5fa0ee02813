package opa

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/settings"
)

// validate checks a Config however it was made: by LoadConfig, or by a host
// that passes it WithConfig. Both filter regexes must compile, every
// component needs a name (unique regardless of case), a LOAD of yes, no,
// auto or empty (any case), and a DRIVER unless LOAD is no, and
// ComponentTimeout must not be negative. The error is a *ConfigError naming
// the key (its Source is empty: a Config does not know where it came from).
func (c Config) validate() error {
	if _, err := compileFilterRE("PLUGIN_WHITELIST_RE", c.WhitelistRE); err != nil {
		return err
	}
	if _, err := compileFilterRE("PLUGIN_BLACKLIST_RE", c.BlacklistRE); err != nil {
		return err
	}
	if c.ComponentTimeout < 0 {
		return &ConfigError{Key: "COMPONENT_TIMEOUT", Err: fmt.Errorf("the timeout must not be negative, got %v", c.ComponentTimeout)}
	}
	if _, err := normalizeOnError(c.OnError); err != nil {
		return &ConfigError{Key: "PLUGIN_ON_ERROR", Err: err}
	}
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.OptionalComponents)) {
		key := settings.KeyName([]string{"optional_components", name})
		if strings.TrimSpace(name) == "" {
			return &ConfigError{Key: key, Err: errors.New("a component needs a name")}
		}
		lower := strings.ToLower(name)
		if prev, dup := seen[lower]; dup {
			return &ConfigError{Key: key, Err: fmt.Errorf("components %q and %q differ only in case; names are case-insensitive, keep one", prev, name)}
		}
		seen[lower] = name
		cc := c.OptionalComponents[name]
		load, err := normalizeLoad(cc.Load)
		if err != nil {
			return &ConfigError{Key: key + ".LOAD", Err: err}
		}
		if load != "no" && strings.TrimSpace(cc.Driver) == "" {
			return &ConfigError{Key: key + ".DRIVER", Err: fmt.Errorf("no driver given; DRIVER is required unless LOAD is no (LOAD is %s)", load)}
		}
	}
	return nil
}

// normalizeLoad returns a component's LOAD as "yes", "no" or "auto". It
// accepts those in any case and with surrounding spaces, "true" and "false"
// (YAML booleans that reached a string) for yes and no, and "" for auto;
// anything else is an error.
func normalizeLoad(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "yes", "no", "auto":
		return l, nil
	case "true":
		return "yes", nil
	case "false":
		return "no", nil
	case "":
		return "auto", nil
	}
	return "", fmt.Errorf("invalid LOAD %q: want yes, no or auto", s)
}

// normalizeOnError returns PLUGIN_ON_ERROR as "fail" or "skip"; "" is
// "fail", and anything else is an error.
func normalizeOnError(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "", OnErrorFail:
		return OnErrorFail, nil
	case OnErrorSkip:
		return OnErrorSkip, nil
	}
	return "", fmt.Errorf("invalid PLUGIN_ON_ERROR %q: want fail or skip", s)
}
