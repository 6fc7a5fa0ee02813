package opa

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/opa-stack/opa-go/internal/suggest"
)

// filters are the six allow/deny checks of a Config, compiled once.
type filters struct {
	whitelistList nameList
	whitelistRE   *filterRE
	whitelistTags []string
	blacklistList nameList
	blacklistRE   *filterRE
	blacklistTags []string
}

// nameList is a LIST filter: its names, and for a long list a set of them,
// so that checking every candidate stays linear in the number of candidates.
type nameList struct {
	names []string
	set   map[string]struct{} // nil for a short list
}

// nameListSet is the length from which a nameList uses its set.
const nameListSet = 8

func newNameList(names []string) nameList {
	l := nameList{names: names}
	if len(names) >= nameListSet {
		l.set = make(map[string]struct{}, len(names))
		for _, n := range names {
			l.set[n] = struct{}{}
		}
	}
	return l
}

// isSet reports whether the filter is set (holds a name).
func (l nameList) isSet() bool { return len(l.names) > 0 }

func (l nameList) contains(name string) bool {
	if l.set != nil {
		_, ok := l.set[name]
		return ok
	}
	return slices.Contains(l.names, name)
}

// compileFilterRE compiles a PLUGIN_*_RE setting with Python's re.match
// semantics: anchored at the start only. An empty pattern is unset (nil).
// The pattern must compile on its own before it is wrapped in ^(?:...), so
// that one such as `x)|(.*y` cannot close the wrapper's group and leave a
// branch unanchored (Python rejects it too).
func compileFilterRE(setting, pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, nil
	}
	_, err := regexp.Compile(pattern)
	var re *regexp.Regexp
	if err == nil {
		re, err = regexp.Compile(`^(?:` + pattern + `)`)
	}
	if err != nil {
		return nil, &ConfigError{Key: setting, Err: fmt.Errorf("invalid regular expression %q: %w", pattern, unwrapRegexpError(err))}
	}
	return re, nil
}

// filterRE is a compiled PLUGIN_*_RE. A pattern that is a literal, with
// or without .* before it and $ after it (`.*/p0`, `.*7$`, `demo_`), is
// tested on the match string with the strings package, which gives the
// regexp's answer at a fraction of its cost: discovery tests every
// candidate (BENCHMARKS.md, the discovery row). Any other pattern is
// matched by the regexp.
type filterRE struct {
	re     *regexp.Regexp
	simple bool   // the pattern is [.*]lit[$]; the fields below say how
	lit    string // the literal
	star   bool   // .* before the literal
	starNL bool   // and the . matches a newline too ((?s))
	end    bool   // $ (the end of the text) after the literal
}

// newFilterRE compiles a PLUGIN_*_RE setting as compileFilterRE does; nil
// when the pattern is empty (unset).
func newFilterRE(setting, pattern string) (*filterRE, error) {
	re, err := compileFilterRE(setting, pattern)
	if re == nil || err != nil {
		return nil, err
	}
	f := &filterRE{re: re}
	f.lit, f.star, f.starNL, f.end, f.simple = simpleRE(pattern)
	return f, nil
}

// simpleRE says whether pattern, anchored at the start, is a literal with
// optional .* before it and $ after it, and returns its parts.
func simpleRE(pattern string) (lit string, star, starNL, end, ok bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false, false, false, false
	}
	re = re.Simplify()
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	if len(parts) > 0 && parts[0].Op == syntax.OpStar {
		switch parts[0].Sub[0].Op {
		case syntax.OpAnyCharNotNL:
			star, parts = true, parts[1:]
		case syntax.OpAnyChar:
			star, starNL, parts = true, true, parts[1:]
		}
	}
	if n := len(parts); n > 0 && parts[n-1].Op == syntax.OpEndText {
		end, parts = true, parts[:n-1]
	}
	switch {
	case len(parts) == 0:
	case len(parts) == 1 && parts[0].Op == syntax.OpLiteral && parts[0].Flags&syntax.FoldCase == 0:
		lit = string(parts[0].Rune)
	default:
		return "", false, false, false, false
	}
	// The regexp reads an invalid byte of the match string as U+FFFD, which
	// strings.Index does not.
	if strings.ContainsRune(lit, utf8.RuneError) {
		return "", false, false, false, false
	}
	return lit, star, starNL, end, true
}

// MatchString reports whether the pattern matches s from its start, as
// the regexp ^(?:pattern) does.
func (f *filterRE) MatchString(s string) bool {
	if !f.simple {
		return f.re.MatchString(s)
	}
	switch {
	case !f.star && f.end:
		return s == f.lit
	case !f.star:
		return strings.HasPrefix(s, f.lit)
	case f.end:
		return strings.HasSuffix(s, f.lit) && (f.starNL || strings.IndexByte(s[:len(s)-len(f.lit)], '\n') < 0)
	default:
		// The first place the literal starts is the one with the fewest
		// characters for .* to match.
		i := strings.Index(s, f.lit)
		return i >= 0 && (f.starNL || strings.IndexByte(s[:i], '\n') < 0)
	}
}

// unwrapRegexpError strips the anchor we added from the message, so the
// operator sees their own pattern.
func unwrapRegexpError(err error) error {
	if se, ok := err.(*syntax.Error); ok {
		return fmt.Errorf("%s", se.Code)
	}
	return err
}

func newFilters(c Config) (*filters, error) {
	wre, err := newFilterRE("PLUGIN_WHITELIST_RE", c.WhitelistRE)
	if err != nil {
		return nil, err
	}
	bre, err := newFilterRE("PLUGIN_BLACKLIST_RE", c.BlacklistRE)
	if err != nil {
		return nil, err
	}
	return &filters{
		whitelistList: newNameList(c.WhitelistList),
		whitelistRE:   wre,
		whitelistTags: c.WhitelistTags,
		blacklistList: newNameList(c.BlacklistList),
		blacklistRE:   bre,
		blacklistTags: c.BlacklistTags,
	}, nil
}

// check runs every filter that is set on a plugin's match string and tags.
// It returns "" when the plugin may load, else every failed check, in the
// order of the docs, joined by "; ".
func (f *filters) check(match string, tags []string) string {
	var reasons [6]string // one per filter, on the stack
	no := reasons[:0]
	if f.whitelistList.isSet() && !f.whitelistList.contains(match) {
		no = append(no, "not in PLUGIN_WHITELIST_LIST")
	}
	if f.whitelistRE != nil && !f.whitelistRE.MatchString(match) {
		no = append(no, "does not match PLUGIN_WHITELIST_RE")
	}
	if len(f.whitelistTags) > 0 && !shareTag(f.whitelistTags, tags) {
		no = append(no, "no tag in PLUGIN_WHITELIST_TAGS")
	}
	if f.blacklistList.isSet() && f.blacklistList.contains(match) {
		no = append(no, "in PLUGIN_BLACKLIST_LIST")
	}
	if f.blacklistRE != nil && f.blacklistRE.MatchString(match) {
		no = append(no, "matches PLUGIN_BLACKLIST_RE")
	}
	if len(f.blacklistTags) > 0 && shareTag(f.blacklistTags, tags) {
		no = append(no, "has a tag in PLUGIN_BLACKLIST_TAGS")
	}
	return strings.Join(no, "; ")
}

// misnamed explains a LIST or RE filter that takes the plugin by its bare
// name but not by its match string: one written with names
// (PLUGIN_BLACKLIST_LIST: [hello]) that, as in opa-stack, applies to match
// strings only. It returns one sentence for each whitelist filter that
// dropped the plugin so, and one for each blacklist filter that did not
// apply so. The filters decide as before; this only says why they did what
// the operator did not expect.
func (f *filters) misnamed(match, name string) (white, black []string) {
	if name == match {
		return nil, nil
	}
	list := func(setting string) string {
		return fmt.Sprintf("%s lists the plugin's name %q, not its match string %q", setting, name, match)
	}
	re := func(setting string) string {
		return fmt.Sprintf("%s matches the plugin's name %q, not its match string %q (from its start)", setting, name, match)
	}
	const notApplied = ", so it did not apply"
	if f.whitelistList.isSet() && !f.whitelistList.contains(match) && f.whitelistList.contains(name) {
		white = append(white, list("PLUGIN_WHITELIST_LIST"))
	}
	if f.whitelistRE != nil && !f.whitelistRE.MatchString(match) && f.whitelistRE.MatchString(name) {
		white = append(white, re("PLUGIN_WHITELIST_RE"))
	}
	if f.blacklistList.isSet() && !f.blacklistList.contains(match) && f.blacklistList.contains(name) {
		black = append(black, list("PLUGIN_BLACKLIST_LIST")+notApplied)
	}
	if f.blacklistRE != nil && !f.blacklistRE.MatchString(match) && f.blacklistRE.MatchString(name) {
		black = append(black, re("PLUGIN_BLACKLIST_RE")+notApplied)
	}
	return white, black
}

// tagTypo is a tag a TAGS filter names that no plugin found has, and the
// tag of a plugin found that is near it.
type tagTypo struct{ setting, tag, near string }

// tagTypos finds the tags of the TAGS filters that no plugin found has
// while a plugin found has a near one (stroage and storage, Beta and
// beta): likely typos, since tags compare exactly. A tag with none near
// may be meant for another host's plugins, and is left alone. found holds
// every tag of the plugins found.
func (f *filters) tagTypos(found []string) []tagTypo {
	var out []tagTypo
	for _, filter := range []struct {
		setting string
		tags    []string
	}{{"PLUGIN_WHITELIST_TAGS", f.whitelistTags}, {"PLUGIN_BLACKLIST_TAGS", f.blacklistTags}} {
		for i, tag := range filter.tags {
			if slices.Contains(found, tag) || slices.Contains(filter.tags[:i], tag) {
				continue // a plugin has it, or it was looked at already
			}
			// A near tag the filter lists too is no sign of a typo.
			if near, ok := suggest.Closest(tag, found); ok && !slices.Contains(filter.tags, near) {
				out = append(out, tagTypo{filter.setting, tag, near})
			}
		}
	}
	return out
}

func shareTag(a, b []string) bool {
	for _, t := range b {
		if slices.Contains(a, t) {
			return true
		}
	}
	return false
}
