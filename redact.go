package opa

import (
	"fmt"
	"net/url"
	"regexp"
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

// newRedactor collects the values of secret-looking option keys, and the
// passwords inside URLs, from every component's options.
func newRedactor(comps map[string]ComponentConfig) *redactor {
	r := &redactor{}
	for _, cc := range comps {
		r.collect(cc.Opts)
	}
	return r
}

func (r *redactor) collect(opts map[string]any) {
	for k, v := range opts {
		switch v := v.(type) {
		case map[string]any:
			r.collect(v)
		case Options:
			r.collect(v)
		case string:
			if secretKey.MatchString(k) {
				r.add(v)
			}
			if pw := urlPassword(v); pw != "" {
				r.add(pw)
			}
		default:
			if secretKey.MatchString(k) && v != nil {
				r.add(fmt.Sprint(v))
			}
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
// secret-looking keys and passwords in URLs are replaced.
func redactOptions(opts map[string]any) map[string]any {
	if opts == nil {
		return nil
	}
	out := make(map[string]any, len(opts))
	for k, v := range opts {
		switch v := v.(type) {
		case map[string]any:
			out[k] = redactOptions(v)
		case Options:
			out[k] = redactOptions(v)
		default:
			if secretKey.MatchString(k) {
				out[k] = redacted
			} else if s, ok := v.(string); ok && urlPassword(s) != "" {
				out[k] = strings.ReplaceAll(s, ":"+urlPassword(s)+"@", ":"+redacted+"@")
			} else {
				out[k] = v
			}
		}
	}
	return out
}

// urlPassword returns the password of a URL such as redis://u:pw@host, or "".
func urlPassword(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}
