package opa

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// redacted replaces a secret value wherever it would be shown.
const redacted = "[REDACTED]"

// minScrub is the length below which a secret is not replaced wherever
// it appears in free text (error messages): shorter values would blank out
// ordinary words such as a component's name. Such a secret is replaced
// where it shows inside its option's own text and next to its key, and a
// text that still holds it is hidden whole (see redactor.scrub).
const minScrub = 6

// hiddenText replaces a text that holds a short secret (under minScrub
// bytes) that could not be hidden in place.
const hiddenText = "[REDACTED: this text held a value of a component's OPTS that is secret and too short (under 6 characters) to hide in place]"

// secretWords are the words of an option key that make its value secret.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true,
	"secret": true, "secrets": true, "token": true, "tokens": true,
	"credential": true, "credentials": true, "creds": true,
	"auth": true, "authorization": true,
	"apikey": true, "privatekey": true, "secretkey": true, "accesskey": true,
	"sas": true, "sig": true, // Azure's shared access signatures: ?sas=..., ?sig=...
}

// secretSuffixes make a word secret when it ends with one of them, for keys
// written as one word: "dbpassword", "clientsecret", "authtoken".
var secretSuffixes = []string{"password", "passwd", "secret", "token"}

// secretKey reports whether the values of an option key are secret. It
// decides by the key's words (split at anything but letters and digits, and
// where a lower-case letter meets an upper-case one), not by substrings: a
// word in secretWords or ending with one of secretSuffixes, or "key" as the
// last word ("key", "api_key", "private_key"). So "keyspace", "key_prefix"
// and "author" are not secret.
func secretKey(key string) bool {
	words := keyWords(key)
	for i, w := range words {
		if secretWords[w] || (i == len(words)-1 && (w == "key" || w == "keys")) {
			return true
		}
		for _, suf := range secretSuffixes {
			if strings.HasSuffix(w, suf) {
				return true
			}
		}
	}
	return false
}

// keyWords splits an option key into lower-case words.
func keyWords(key string) []string {
	var words []string
	var cur []rune
	prevLower := false
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for _, c := range key {
		switch {
		case unicode.IsUpper(c):
			if prevLower {
				flush()
			}
			cur = append(cur, c)
			prevLower = false
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			cur = append(cur, c)
			prevLower = true
		default:
			flush()
			prevLower = false
		}
	}
	flush()
	return words
}

// redactor hides the secrets of the components' OPTS in any text.
type redactor struct {
	// texts are the option strings that hold a secret, each with what is
	// shown instead, longest first: a driver that repeats its URL in an
	// error shows it redacted, whatever the length of the password.
	texts []replacement
	// long are the secrets of minScrub bytes or more, in every form (as
	// written, decoded, escaped again), longest first: replaced anywhere.
	long []string
	// near are the short secrets together with what stands next to them
	// in their option's text, or with their key ("password=abc", ":abc@"),
	// longest first: replaced anywhere.
	near []replacement
	// all is every secret in every form: a text that still holds one
	// after the replacements is hidden whole.
	all []string
}

type replacement struct{ old, new string }

// newRedactor collects the secrets of every component's options: the
// values of secret keys (everything under such a key, when it holds a map
// or a list), looking into maps, lists and structs of any type, and the
// secrets inside URLs and libpq strings under any key (dsnSecrets).
func newRedactor(comps map[string]ComponentConfig) *redactor {
	r := &redactor{}
	for _, cc := range comps {
		r.collect(map[string]any(cc.Opts), "", false, 0)
	}
	r.finish()
	return r
}

// with returns a redactor that also hides the secrets in v, which is read
// as collect reads OPTS.
func (r *redactor) with(v any) *redactor {
	out := &redactor{}
	if r != nil {
		out = &redactor{texts: slices.Clone(r.texts), long: slices.Clone(r.long), near: slices.Clone(r.near), all: slices.Clone(r.all)}
	}
	out.collect(v, "", false, 0)
	out.finish()
	return out
}

// finish sorts what collect found, longest first, without duplicates.
func (r *redactor) finish() {
	longestFirst := func(a, b string) int { return len(b) - len(a) }
	for _, l := range []*[]string{&r.long, &r.all} {
		slices.SortFunc(*l, longestFirst)
		*l = slices.Compact(*l)
	}
	for _, l := range []*[]replacement{&r.texts, &r.near} {
		slices.SortFunc(*l, func(a, b replacement) int { return longestFirst(a.old, b.old) })
		*l = slices.Compact(*l)
	}
}

// maxDepth bounds how deep collect and redactValue look into a value.
const maxDepth = 32

// collect adds the secrets in v, found under key; secret says v is held by
// a secret key.
func (r *redactor) collect(v any, key string, secret bool, depth int) {
	if v == nil || depth > maxDepth {
		return
	}
	if s, ok := v.(string); ok {
		if secret {
			r.addSecret(key, s)
		}
		r.addText(s)
		if u, err := url.Parse(s); err == nil && u.String() != s {
			r.addText(u.String()) // as a driver that parsed it prints it
		}
		return
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		for it := rv.MapRange(); it.Next(); {
			k := it.Key()
			sub := key
			if k.Kind() == reflect.String {
				sub = k.String()
			}
			r.collect(it.Value().Interface(), sub, secret || (k.Kind() == reflect.String && secretKey(k.String())), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			if secret {
				r.addSecret(key, fmt.Sprint(v))
			}
			return
		}
		for i := range rv.Len() {
			r.collect(rv.Index(i).Interface(), key, secret, depth+1)
		}
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			r.collect(rv.Elem().Interface(), key, secret, depth+1)
		}
	case reflect.Struct:
		for i := range rv.NumField() {
			if f := rv.Type().Field(i); f.IsExported() {
				r.collect(rv.Field(i).Interface(), f.Name, secret || secretKey(f.Name), depth+1)
			}
		}
	case reflect.Bool:
		// true or false under a secret key ("auth: true") says whether,
		// not what: it is no secret, and would hide every "true".
	default:
		if secret {
			r.addSecret(key, fmt.Sprint(v))
		}
	}
}

// addSecret adds s, the whole value under the secret key key.
func (r *redactor) addSecret(key, s string) {
	if s == "" {
		return
	}
	r.addValue(s)
	if key != "" && len(s) < minScrub {
		for _, f := range []string{"%s=%s", "%s:%s", "%s: %s", "%s='%s'", "%s=%q", "%q:%q", "%q: %q"} {
			r.near = append(r.near, replacement{fmt.Sprintf(f, key, s), strings.Replace(fmt.Sprintf(f, key, "\x00"), "\x00", redacted, 1)})
		}
	}
}

// addText adds the secrets of s, a URL or libpq string, and s itself, to
// be shown redacted wherever it appears.
func (r *redactor) addText(s string) {
	spans := dsnSecrets(s)
	if len(spans) == 0 {
		return
	}
	r.texts = append(r.texts, replacement{s, replaceSpans(s, spans)})
	for _, sp := range spans {
		for _, v := range sp.values {
			r.addValue(v)
		}
		if sp.end-sp.start < minScrub {
			from, to := max(sp.start-1, 0), min(sp.end+1, len(s))
			r.near = append(r.near, replacement{s[from:to], s[from:sp.start] + redacted + s[sp.end:to]})
		}
	}
}

// addValue adds a secret, and the forms a URL writer gives it.
func (r *redactor) addValue(s string) {
	if s == "" {
		return
	}
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s), strings.TrimPrefix(url.UserPassword("", s).String(), ":")}
	for _, f := range forms {
		r.all = append(r.all, f)
		if len(f) >= minScrub {
			r.long = append(r.long, f)
		}
	}
}

// scrub returns s with every secret replaced: first the option strings
// that hold one (so a URL a driver repeats keeps its host and port), then
// every secret of minScrub bytes or more, then the short ones next to
// their key or in their URL. A text that still holds a secret, short ones
// included, comes back as hiddenText: hidden rather than leaked.
func (r *redactor) scrub(s string) string {
	if r == nil || len(r.all) == 0 {
		return s
	}
	for _, t := range r.texts {
		s = strings.ReplaceAll(s, t.old, t.new)
	}
	for _, sec := range r.long {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	for _, n := range r.near {
		s = strings.ReplaceAll(s, n.old, n.new)
	}
	masked := strings.ReplaceAll(strings.ReplaceAll(s, hiddenText, "\x00"), redacted, "\x00")
	for _, sec := range r.all {
		if strings.Contains(masked, sec) {
			return hiddenText
		}
	}
	return s
}

// wrap returns err with every secret hidden from its message (see scrub);
// errors.Is and errors.As still see the original.
func (r *redactor) wrap(err error) error {
	if err == nil || r == nil || len(r.all) == 0 {
		return err
	}
	return &scrubbedError{msg: r.scrub(err.Error()), err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// options returns opts fit for a log line: redactOptions, then every
// string in it scrubbed (an option may repeat another's secret).
func (r *redactor) options(opts map[string]any) any {
	if opts == nil {
		return nil
	}
	return r.scrubValue(redactOptions(opts))
}

// redactOptions returns a copy of opts fit for logs and reports: values of
// secret keys (whatever their type and length) and the secrets of URLs and
// libpq strings (dsnSecrets), also inside nested maps and lists of any
// type, are replaced. Nested maps with string keys come back as
// map[string]any, lists as []any.
func redactOptions(opts map[string]any) map[string]any {
	if opts == nil {
		return nil
	}
	out, _ := redactValue(opts, 0).(map[string]any)
	return out
}

func redactValue(v any, depth int) any {
	if v == nil || depth > maxDepth {
		return v
	}
	if s, ok := v.(string); ok {
		return redactString(s)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return v
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			if secretKey(k) {
				out[k] = redacted
			} else {
				out[k] = redactValue(it.Value().Interface(), depth+1)
			}
		}
		return out
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return v
		}
		out := make([]any, rv.Len())
		for i := range rv.Len() {
			out[i] = redactValue(rv.Index(i).Interface(), depth+1)
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return v
		}
		return redactValue(rv.Elem().Interface(), depth+1)
	case reflect.Struct: // shown as a map of its exported fields, as collect reads it
		if !slices.ContainsFunc(reflect.VisibleFields(rv.Type()), func(f reflect.StructField) bool { return f.IsExported() }) {
			return v // nothing to redact, nor to show as a map: a time.Time stays itself
		}
		out := map[string]any{}
		for i := range rv.NumField() {
			f := rv.Type().Field(i)
			switch {
			case !f.IsExported():
			case secretKey(f.Name):
				out[f.Name] = redacted
			default:
				out[f.Name] = redactValue(rv.Field(i).Interface(), depth+1)
			}
		}
		return out
	}
	return v
}
