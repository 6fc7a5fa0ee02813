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

// minScrub is the length below which a secret is not replaced in free text
// (error messages): shorter values would blank out ordinary words such as a
// component's name. They are still hidden wherever the options themselves
// are shown (logs and reports, see redactOptions).
const minScrub = 6

// secretWords are the words of an option key that make its value secret.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true,
	"secret": true, "secrets": true, "token": true, "tokens": true,
	"credential": true, "credentials": true, "creds": true,
	"auth": true, "authorization": true,
	"apikey": true, "privatekey": true, "secretkey": true, "accesskey": true,
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

// redactor hides the secret option values of a config in any text.
type redactor struct {
	secrets []string
}

// newRedactor collects the values of secret keys (everything under such a
// key, when it holds a map or a list), and the passwords inside URLs, from
// every component's options, looking into maps and lists of any type.
func newRedactor(comps map[string]ComponentConfig) *redactor {
	r := &redactor{}
	for _, cc := range comps {
		r.collect(map[string]any(cc.Opts), false, 0)
	}
	// Longest first, so a secret holding another is hidden whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

// maxDepth bounds how deep collect and redactValue look into a value.
const maxDepth = 32

// collect adds the secrets in v; secret says v is held by a secret key.
func (r *redactor) collect(v any, secret bool, depth int) {
	if v == nil || depth > maxDepth {
		return
	}
	if s, ok := v.(string); ok {
		if secret {
			r.add(s)
		}
		raw, pw := urlPasswords(s)
		r.add(raw)
		r.add(pw)
		return
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		for it := rv.MapRange(); it.Next(); {
			k := it.Key()
			r.collect(it.Value().Interface(), secret || (k.Kind() == reflect.String && secretKey(k.String())), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			if secret {
				r.add(fmt.Sprint(v))
			}
			return
		}
		for i := range rv.Len() {
			r.collect(rv.Index(i).Interface(), secret, depth+1)
		}
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			r.collect(rv.Elem().Interface(), secret, depth+1)
		}
	case reflect.Struct:
		for i := range rv.NumField() {
			if f := rv.Type().Field(i); f.IsExported() {
				r.collect(rv.Field(i).Interface(), secret || secretKey(f.Name), depth+1)
			}
		}
	default:
		if secret {
			r.add(fmt.Sprint(v))
		}
	}
}

func (r *redactor) add(s string) {
	if len(s) >= minScrub {
		r.secrets = append(r.secrets, s)
	}
}

// scrub returns s with every secret replaced.
func (r *redactor) scrub(s string) string {
	if r == nil {
		return s
	}
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

// wrap returns err with every secret hidden from its message; errors.Is and
// errors.As still see the original.
func (r *redactor) wrap(err error) error {
	if err == nil || r == nil || len(r.secrets) == 0 {
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

// redactOptions returns a copy of opts fit for logs and reports: values of
// secret keys (whatever their type and length) and passwords in URLs, also
// inside nested maps and lists of any type, are replaced. Nested maps with
// string keys come back as map[string]any, lists as []any.
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
		if raw, _ := urlPasswords(s); raw != "" {
			return strings.Replace(s, ":"+raw+"@", ":"+redacted+"@", 1)
		}
		return s
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

// urlPasswords returns the password of a URL such as redis://u:pw@host as
// written (raw, maybe percent-encoded) and decoded, or "" and "".
func urlPasswords(s string) (raw, decoded string) {
	scheme := strings.Index(s, "://")
	if scheme < 0 || !strings.Contains(s, "@") {
		return "", ""
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return "", ""
	}
	decoded, ok := u.User.Password()
	if !ok {
		return "", ""
	}
	authority := s[scheme+3:]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	userinfo := authority[:max(strings.LastIndex(authority, "@"), 0)]
	if _, pw, found := strings.Cut(userinfo, ":"); found {
		raw = pw
	}
	return raw, decoded
}
