package opa

import (
	"net/url"
	"slices"
	"strings"
)

// A connection string holds its secrets by how it is written, not under a
// key of OPTS: a URL has a password in its userinfo and perhaps a token in
// its query, a libpq string has password=. dsnSecrets finds them so that
// the redactor hides them wherever they show; see doc.go, "Secrets and the
// report".

// span is a secret inside an option string: s[start:end] as written, and
// the values a driver may print for it (decoded, and every other reading).
type span struct {
	start, end int
	values     []string
}

// dsnSecrets returns the secrets of s, a URL (scheme://...) or a libpq
// key=value string, in order and not overlapping; nil if s is neither or
// holds none.
func dsnSecrets(s string) []span {
	if rest, ok := afterScheme(s); ok {
		return merge(urlSecrets(s, len(s)-len(rest)))
	}
	return merge(keyValueSecrets(s))
}

// redactString returns s with the secrets of a URL or key=value string
// replaced; the scheme, host, port, database and user stay.
func redactString(s string) string {
	return replaceSpans(s, dsnSecrets(s))
}

func replaceSpans(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(redacted)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// afterScheme returns what follows "scheme://" when s starts with one.
func afterScheme(s string) (string, bool) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return "", false
	}
	for j, c := range s[:i] {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return s[i+3:], true
}

// urlSecrets finds the secrets of a URL whose authority starts at s[at:].
//
// Drivers accept passwords with unescaped '#', '/', '?', '@' and ':', so the
// userinfo is taken to end at the last '@' that a host follows, not at the
// first '/', '?' or '#' as RFC 3986 reads it. A userinfo whose user part
// holds one of those characters cannot be split into user and password: it
// is hidden whole. Query parameters under a secret-looking key
// (secretKey) are secrets too, read both after the host and after the
// first '?'.
func urlSecrets(s string, at int) []span {
	rest := s[at:]
	var spans []span
	hostAt := 0 // where the host starts in rest
	if i := lastUserinfoEnd(rest); i >= 0 {
		hostAt = i + 1
		userinfo := rest[:i]
		user, pw, hasPW := strings.Cut(userinfo, ":")
		switch {
		case strings.ContainsAny(user, "/?#@"):
			spans = append(spans, span{at, at + i, readings(userinfo, url.PathUnescape)})
		case hasPW && pw != "":
			start := at + len(user) + 1
			spans = append(spans, span{start, at + i, readings(pw, url.PathUnescape)})
		}
	}
	// The query after the host, and, where that differs, after the first
	// '?' (the reading of a driver that takes a '?' in the password as the
	// start of the query).
	if q := strings.IndexByte(rest[hostAt:], '?'); q >= 0 {
		spans = append(spans, querySecrets(s, at+hostAt+q+1)...)
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 && q < hostAt {
		spans = append(spans, querySecrets(s, at+q+1)...)
	}
	return spans
}

// lastUserinfoEnd returns the index in rest of the '@' that ends the
// userinfo: the last one followed by something that can be a host (and
// port, or a list of them), or -1.
func lastUserinfoEnd(rest string) int {
	for i := len(rest) - 1; i >= 0; i-- {
		if rest[i] != '@' {
			continue
		}
		host := rest[i+1:]
		if j := strings.IndexAny(host, "/?#"); j >= 0 {
			host = host[:j]
		}
		if plausibleHost(host) {
			return i
		}
	}
	return -1
}

func plausibleHost(h string) bool {
	if h == "" {
		return false
	}
	for _, c := range h {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-_:[]%,", c)
		if !ok {
			return false
		}
	}
	return true
}

// querySecrets finds the values of secret-looking parameters in the query
// that starts at s[at:] and ends at the first '#'.
func querySecrets(s string, at int) []span {
	end := len(s)
	if i := strings.IndexByte(s[at:], '#'); i >= 0 {
		end = at + i
	}
	var spans []span
	pos := at
	for _, param := range strings.Split(s[at:end], "&") {
		key, val, ok := strings.Cut(param, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if ok && val != "" && secretKey(key) {
			start := pos + len(param) - len(val)
			spans = append(spans, span{start, start + len(val), readings(val, url.QueryUnescape)})
		}
		pos += len(param) + 1
	}
	return spans
}

// keyValueSecrets finds the values of secret-looking keys (password,
// sslpassword) in a libpq connection string: key = value pairs apart by
// white space, a value in single quotes or up to the next white space,
// with \ escaping the next character. A string that does not parse whole
// as such (ordinary text) has none.
func keyValueSecrets(s string) []span {
	var spans []span
	i, pairs := 0, 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		k := i
		for i < len(s) && (isWordByte(s[i]) || s[i] == '.') {
			i++
		}
		key := s[k:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if key == "" || i == len(s) || s[i] != '=' {
			return nil
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		v := i
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
			if i == len(s) {
				return nil // an unterminated quote: not a connection string
			}
			i++
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		pairs++
		if i > v && secretKey(key) {
			raw := s[v:i]
			values := []string{raw, val.String()}
			if inner := strings.TrimSuffix(strings.TrimPrefix(raw, "'"), "'"); inner != raw {
				values = append(values, inner)
			}
			spans = append(spans, span{v, i, values})
		}
	}
	if pairs == 0 {
		return nil
	}
	return spans
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// readings returns a secret as written, decoded, and, where it holds a
// character a URL reader may stop at, each piece between such characters
// of at least minScrub bytes (a driver that reads the URL otherwise may
// print one; shorter pieces would hide every text with such a word).
func readings(raw string, unescape func(string) (string, error)) []string {
	out := []string{raw}
	if d, err := unescape(raw); err == nil && d != raw {
		out = append(out, d)
	}
	for _, v := range slices.Clone(out) {
		for _, piece := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune("/?#@:&", r) }) {
			if piece != v && len(piece) >= minScrub {
				out = append(out, piece)
			}
		}
	}
	return out
}

// merge sorts spans and joins those that overlap.
func merge(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	out := spans[:1]
	for _, sp := range spans[1:] {
		last := &out[len(out)-1]
		if sp.start < last.end {
			last.end = max(last.end, sp.end)
			last.values = append(last.values, sp.values...)
			continue
		}
		out = append(out, sp)
	}
	return out
}
