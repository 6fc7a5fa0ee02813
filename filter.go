package opa

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/suggest"
)

// filters are the six allow/deny checks of a Config, compiled once.
type filters struct {
	whitelistList nameList
	whitelistRE   *regexp.Regexp
	whitelistTags []string
	blacklistList nameList
	blacklistRE   *regexp.Regexp
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

// unwrapRegexpError strips the anchor we added from the message, so the
// operator sees their own pattern.
func unwrapRegexpError(err error) error {
	if se, ok := err.(*syntax.Error); ok {
		return fmt.Errorf("%s", se.Code)
	}
	return err
}

func newFilters(c Config) (*filters, error) {
	wre, err := compileFilterRE("PLUGIN_WHITELIST_RE", c.WhitelistRE)
	if err != nil {
		return nil, err
	}
	bre, err := compileFilterRE("PLUGIN_BLACKLIST_RE", c.BlacklistRE)
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
