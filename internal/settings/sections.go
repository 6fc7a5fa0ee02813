package settings

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/suggest"
)

// usualEnvironments are section names that are environments whether or
// not ENV names them now, so that a file holding them is not warned about.
var usualEnvironments = []string{"development", "production", "staging", "testing"}

// noteSections records the top-level names of a settings file.
func (l *Settings) noteSections(path string, file map[string]any) {
	if l.sections == nil {
		l.sections = map[string][]string{}
	}
	var names []string
	for _, k := range slices.Sorted(maps.Keys(file)) {
		if k != mergeMarker {
			names = append(names, strings.ToLower(k))
		}
	}
	l.sections[path] = names
}

// SectionWarnings says what in the settings files' sections may not do
// what it seems to: an ENV (set in env) that names a section no file has,
// and a top-level section that is neither default, global, the ENV section
// nor a usual environment name (a typo such as "prodution"), each with the
// closest name. Files apply in name order; so do the warnings.
func (l *Settings) SectionWarnings(env map[string]string) []string {
	if len(l.sections) == 0 {
		return nil
	}
	current := Section(env)
	var all []string
	for _, names := range l.sections {
		for _, n := range names {
			if !slices.Contains(all, n) {
				all = append(all, n)
			}
		}
	}
	slices.Sort(all)
	var out []string
	if strings.TrimSpace(env[envEnvironment]) != "" && !slices.Contains(all, current) {
		out = append(out, fmt.Sprintf("%s=%s: no settings file has a section %s; sections are %s%s",
			envEnvironment, env[envEnvironment], current, strings.Join(all, ", "), didYouMean(current, all)))
	}
	known := append([]string{"default", "global", current}, usualEnvironments...)
	for _, path := range slices.Sorted(maps.Keys(l.sections)) {
		for _, n := range l.sections[path] {
			if slices.Contains(known, n) {
				continue
			}
			out = append(out, fmt.Sprintf("%s: section %s applies only under %s=%s: it is not default, global, the current %s section (%s) nor one of %s%s",
				path, n, envEnvironment, n, envEnvironment, current, strings.Join(usualEnvironments, ", "), didYouMean(n, known)))
		}
	}
	return out
}

// didYouMean is " (did you mean x?)" for the closest of names, or for the
// one name that starts with name (prod: production; of several, the one
// usual environment), or "".
func didYouMean(name string, names []string) string {
	if s, ok := suggest.Closest(name, names); ok && s != name {
		return fmt.Sprintf(" (did you mean %s?)", s)
	}
	var longer []string
	for _, n := range names {
		if n != name && strings.HasPrefix(n, name) {
			longer = append(longer, n)
		}
	}
	if len(longer) > 1 { // prefer a usual environment: prod, production, prodution
		longer = slices.DeleteFunc(longer, func(n string) bool { return !slices.Contains(usualEnvironments, n) })
	}
	if len(longer) == 1 {
		return fmt.Sprintf(" (did you mean %s?)", longer[0])
	}
	return ""
}
