package opa

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/suggest"
)

// checkPinValues refuses a PLUGIN_SHA256 value that is not a SHA-256 in
// hex, whether or not a plugin of that name is found: a pin that cannot
// match anything is a mistake wherever it is.
func checkPinValues(pins map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(pins)) {
		if sum, err := hex.DecodeString(strings.TrimSpace(pins[name])); err != nil || len(sum) != 32 {
			return &ConfigError{Key: "PLUGIN_SHA256." + name, Err: fmt.Errorf("%q is not a SHA-256 in hex (64 characters, as sha256sum prints it)", pins[name])}
		}
	}
	return nil
}

// strayPins finds the PLUGIN_SHA256 names that pin no .so plugin found
// here. A settings file may pin plugins another host has, so a stray pin
// is a warning (rep.Warnings and a WARN line), not an error; but when a
// plugin found has a name near it and no pin of its own, the pin was
// likely meant for it, and that plugin loads unpinned: the returned notes,
// by candidate name, say so. A pin on a compiled-in plugin does not apply
// either: it is part of the host binary.
func (m *Manager) strayPins(cands []*candidate, rep *Report) map[string]string {
	pins := m.cfg.PluginSHA256
	if len(pins) == 0 {
		return nil
	}
	used := map[string]bool{}
	builtin := map[string]bool{}
	var files []string // the names of the .so candidates, each once
	for _, c := range cands {
		if c.builtin != nil {
			builtin[c.name] = true
			continue
		}
		if !slices.Contains(files, c.name) {
			files = append(files, c.name)
		}
		if _, ok := pins[c.name]; ok {
			used[c.name] = true
		} else if _, ok := pins[strings.ToLower(c.name)]; ok {
			used[strings.ToLower(c.name)] = true
		}
	}
	var notes map[string]string
	for _, pin := range slices.Sorted(maps.Keys(pins)) {
		switch {
		case used[pin]:
		case builtin[pin]:
			m.warn(rep, fmt.Sprintf("PLUGIN_SHA256 pins %q, a compiled-in plugin: it is part of the host binary, so the pin does not apply", pin))
		default:
			near, ok := suggest.Closest(pin, files)
			if _, pinned := preflight.Pin(pins, near); !ok || pinned {
				m.warn(rep, fmt.Sprintf("PLUGIN_SHA256 pins %q, which is no .so plugin found here", pin))
				continue
			}
			m.warn(rep, fmt.Sprintf("PLUGIN_SHA256 pins %q, which is no .so plugin found here (did you mean %q? it has no pin)", pin, near))
			if notes == nil {
				notes = map[string]string{}
			}
			notes[near] = fmt.Sprintf("not pinned: PLUGIN_SHA256 pins %q, which is no plugin found here (did you mean %q?)", pin, near)
		}
	}
	return notes
}
