package opa

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/settings"
	"github.com/opa-stack/opa-go/internal/suggest"
)

// checkPinValues refuses a PLUGIN_SHA256 value that is not a SHA-256 in
// hex, whether or not a plugin of that name is found: a pin that cannot
// match anything is a mistake wherever it is. LoadConfig checks the same
// as it decodes, naming where the value came from.
func checkPinValues(pins map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(pins)) {
		if _, err := preflight.ParsePin(pins[name]); err != nil {
			return &ConfigError{Key: settings.KeyName([]string{"plugin_sha256", name}), Err: err}
		}
	}
	return nil
}

// strayPins finds the PLUGIN_SHA256 names that pin no .so plugin found
// here. A settings file may pin plugins another host has, so a stray pin
// is a warning (rep.Warnings and a WARN line), not an error; but when a
// plugin found has a name near it and no pin of its own, the pin was
// likely meant for it, and that plugin is not pinned: the returned notes,
// by candidate name, say so. A pin on a compiled-in plugin does not apply
// either: it is part of the host binary.
func (m *Manager) strayPins(cands []*candidate, rep *Report) map[string]string {
	pins := m.cfg.PluginSHA256
	if len(pins) == 0 {
		return nil
	}
	// Only the winning candidates count: a shadowed one never loads, so a
	// pin of its name pins nothing (unless the winner is a file too).
	used := map[string]bool{}
	builtin := map[string]bool{}
	var files []string // the names of the winning .so candidates
	for _, c := range cands {
		switch {
		case c.shadowed != "":
		case c.builtin != nil:
			builtin[c.name], builtin[strings.ToLower(c.name)] = true, true
		default:
			files = append(files, c.name)
			if key, ok := preflight.PinKey(pins, c.name); ok {
				used[key] = true
			}
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
			note := fmt.Sprintf("not pinned: PLUGIN_SHA256 pins %q, which is no .so plugin found here (did you mean %q?)", pin, near)
			notes[near] = addNote(notes[near], note)
		}
	}
	return notes
}
