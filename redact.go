package opa

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// secretKey matches option keys whose values must never be shown.
var secretKey = regexp.MustCompile(`(?i)pass|secret|token|key|credential|auth`)

// redacted replaces a secret value wherever it would be shown.
const redacted = "[REDACTED]"

// redactor hides the secret option values of a config in any text.
type redactor struct {
	secrets []string
}

// newRedactor collects the values of secret-looking option keys (everything
// under such a key, when it holds a map or a list), and the passwords inside
// URLs, from every component's options.
func newRedactor(comps map[string]ComponentConfig) *redactor {
	r := &redactor{}
	for _, cc := range comps {
		r.collect(map[string]any(cc.Opts), false)
	}
	// Longest first, so a secret holding another is hidden whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

// collect adds the secrets in v; secret says v is held by a secret key.
func (r *redactor) collect(v any, secret bool) {
	switch v := v.(type) {
	case nil:
	case map[string]any:
		for k, x := range v {
			r.collect(x, secret || secretKey.MatchString(k))
		}
	case Options:
		r.collect(map[string]any(v), secret)
	case []any:
		for _, x := range v {
			r.collect(x, secret)
		}
	case []string:
		for _, x := range v {
			r.collect(x, secret)
		}
	case string:
		if secret {
			r.add(v)
		}
		raw, pw := urlPasswords(v)
		r.add(raw)
		r.add(pw)
	default:
		if secret {
			r.add(fmt.Sprint(v))
		}
	}
}

func (r *redactor) add(s string) {
	if len(s) >= 3 { // shorter strings would blank out ordinary words
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
// secret-looking keys (whatever their type) and passwords in URLs, also
// inside nested maps and lists, are replaced.
func redactOptions(opts map[string]any) map[string]any {
	if opts == nil {
		return nil
	}
	out := make(map[string]any, len(opts))
	for k, v := range opts {
		if secretKey.MatchString(k) {
			out[k] = redacted
			continue
		}
		out[k] = redactValue(v)
	}
	return out
}

func redactValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return redactOptions(v)
	case Options:
		return redactOptions(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = redactValue(x)
		}
		return out
	case []string:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = redactValue(x).(string)
		}
		return out
	case string:
		if raw, _ := urlPasswords(v); raw != "" {
			return strings.Replace(v, ":"+raw+"@", ":"+redacted+"@", 1)
		}
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
