// Package main is the "fullname_formal" example plugin: a second "fullname"
// hook, with a higher Order than the one of plugin fullname, so it wins
// whenever both are loaded: /get-fullname/ada/lovelace then answers
// "Hello Lovelace, Ada" instead of "Hello ada lovelace".
//
// Its meta file (fullname_formal-meta.json) tags it "formal", and the example
// settings blacklist that tag, so it is off until the filter is lifted:
//
//	OPA_PLUGIN_BLACKLIST_TAGS='[]' make run
package main

import (
	"unicode"
	"unicode/utf8"

	"github.com/opa-stack/opa-go"
)

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Hooks: []opa.Hook{{
		Name:  "fullname",
		Order: 2, // higher than plugin fullname's 1: this one wins
		Func:  func(first, sur string) string { return title(sur) + ", " + title(first) },
	}},
}

// title upper-cases the first letter of s.
func title(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

func main() {}
