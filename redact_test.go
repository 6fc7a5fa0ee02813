package opa_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// secretOpts are OPTS holding secrets in every shape a config can: values of
// secret-looking keys (also non-strings, and whole maps under such a key),
// nested secret keys, and passwords inside URLs (also in lists, and
// percent-encoded).
func secretOpts() (opa.Options, []string) {
	opts := opa.Options{
		"password":    "pa55-hunter",
		"secret":      "s3cret-value",
		"token":       "tok-abcdef",
		"api_key":     "apikey-12345",
		"credentials": "creds-xyz",
		"pin_token":   987654,
		"url":         "redis://user:hunter22@cache:6379/0",
		"oldpassword": "hunter22-old", // holds another secret: hidden whole
		"dsn":         "postgres://app:p%40ss-enc@db/app",
		"hosts":       []any{"redis://u:listpw-8@h1:6379", "redis://h2:6379"},
		"sentinel":    map[string]any{"master_password": "nested-pw-6", "name": "mymaster"},
		"auth":        map[string]any{"user": "svc-user", "value": "mapcred-7"},
	}
	secrets := []string{"pa55-hunter", "s3cret-value", "tok-abcdef", "apikey-12345", "creds-xyz", "987654",
		"hunter22", "-old", "p%40ss-enc", "p@ss-enc", "listpw-8", "nested-pw-6", "svc-user", "mapcred-7"}
	return opts, secrets
}

func TestRedactSecrets(t *testing.T) {
	cases := []struct {
		name       string
		comps      map[string][]string // component → behaviour OPTS; every one gets the secrets
		load       string
		startErr   bool
		shutdown   bool // Startup succeeds; the secret must not leak from Shutdown
		wantErrMsg string
	}{
		{"connect error, LOAD=auto", map[string][]string{"c": {"connect", "fail"}}, "auto", true, false, "authentication failed"},
		{"connect error, LOAD=yes", map[string][]string{"c": {"connect", "fail"}}, "yes", true, false, "authentication failed"},
		{"unavailable, LOAD=yes", map[string][]string{"c": {"connect", "unavailable"}}, "yes", true, false, "Connect pre-check failed"},
		{"unavailable, LOAD=auto (log and report only)", map[string][]string{"c": {"connect", "unavailable"}}, "auto", false, false, ""},
		{"validate error", map[string][]string{"c": {"validate", "fail"}}, "yes", true, false, "validate"},
		{"New error", map[string][]string{"c": {"new", "fail"}}, "yes", true, false, "new c with"},
		{"connect panic", map[string][]string{"c": {"connect", "panic"}}, "yes", true, false, "connect: panicked"},
		{"close error during rollback", map[string][]string{"a": {"close", "fail"}, "c": {"connect", "fail"}}, "yes", true, false, "additionally, cleanup"},
		{"close error at Shutdown", map[string][]string{"c": {"close", "fail"}}, "yes", false, true, "close c with"},
		{"close panic at Shutdown", map[string][]string{"c": {"close", "panic"}}, "yes", false, true, "close: panicked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{}}
			var secrets []string
			for name, behaviour := range tc.comps {
				cc := comp(tc.load, "fake", name, behaviour...)
				var opts opa.Options
				opts, secrets = secretOpts()
				for k, v := range opts {
					cc.Opts[k] = v
				}
				cfg.OptionalComponents[name] = cc
			}
			c := newCalls(t)
			m, err := startMgr(t, cfg, nil, driverPlugin(c), opa.WithLogger(log))
			var shown []string // everything a user may see
			if tc.startErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErrMsg)
				assert.Contains(t, err.Error(), "[REDACTED]", "the error does echo the options")
				shown = append(shown, err.Error())
			} else {
				require.NoError(t, err)
			}
			if tc.shutdown {
				serr := m.Shutdown(context.Background())
				require.Error(t, serr)
				assert.Contains(t, serr.Error(), tc.wantErrMsg)
				assert.Contains(t, serr.Error(), "[REDACTED]")
				shown = append(shown, serr.Error())
			}
			rep, jerr := json.Marshal(m.Report())
			require.NoError(t, jerr)
			shown = append(shown, string(rep), m.Report().String(), logs.String())
			assert.Contains(t, logs.String(), "[REDACTED]", "the options are logged, redacted")
			for _, s := range shown {
				for _, secret := range secrets {
					assert.NotContains(t, s, secret)
				}
			}
		})
	}
}

func TestRedactKeepsErrorsInspectable(t *testing.T) {
	opts, _ := secretOpts()
	cc := comp("yes", "fake", "c", "connect", "unavailable")
	for k, v := range opts {
		cc.Opts[k] = v
	}
	_, err := startMgr(t, opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"c": cc}}, nil, driverPlugin(newCalls(t)))
	require.Error(t, err)
	assert.ErrorIs(t, err, opa.ErrUnavailable, "redaction keeps errors.Is working")
}

// Redaction decides by the words of an option's key, not by substrings, and
// never replaces short text; values nested in typed maps and slices count.
func TestRedactByKeyWords(t *testing.T) {
	cc := comp("yes", "fake", "svc", "connect", "fail")
	for k, v := range map[string]any{
		"keyspace":   "svc",
		"key_prefix": "svc-prefix",
		"author":     "ada-lovelace",
		"password":   "abc", // short: hidden next to its key, the text hidden whole where it shows elsewhere
		"headers":    map[string]string{"Authorization": "Bearer typed-map-secret"},
		"extra":      []map[string]any{{"client_secret": "in-a-typed-slice"}},
		"tokens":     map[string]int{"refresh": 7654321},
	} {
		cc.Opts[k] = v
	}
	_, err := startMgr(t, opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"svc": cc}}, nil, driverPlugin(newCalls(t)))
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "opa: component svc (driver fake, plugin drv)", "keyspace is not a secret key")
	for _, shown := range []string{"svc-prefix", "ada-lovelace", "authentication failed"} {
		assert.Contains(t, msg, shown)
	}
	for _, secret := range []string{"typed-map-secret", "in-a-typed-slice", "7654321"} {
		assert.NotContains(t, msg, secret)
	}
}

// A struct in OPTS (possible through WithConfig) is logged with the values
// of its secret-looking fields redacted, as a map is.
func TestRedactStructOpts(t *testing.T) {
	type creds struct {
		User     string
		Password string
		private  string
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cc := comp("yes", "fake", "svc")
	cc.Opts["login"] = creds{User: "ada", Password: "struct-field-secret", private: "x"}
	cc.Opts["ptr"] = &creds{User: "bob", Password: "pointer-field-secret"}
	cc.Opts["since"] = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) // no exported fields: shown as itself, not {}
	m, err := startMgr(t, opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"svc": cc}}, nil, driverPlugin(newCalls(t)), opa.WithLogger(log))
	require.NoError(t, err)
	rep, err := json.Marshal(m.Report())
	require.NoError(t, err)
	for _, s := range []string{logs.String(), string(rep)} {
		assert.NotContains(t, s, "struct-field-secret")
		assert.NotContains(t, s, "pointer-field-secret")
	}
	assert.Contains(t, logs.String(), "User:ada")
	assert.Contains(t, logs.String(), "Password:[REDACTED]")
	assert.Contains(t, logs.String(), "since:2026-11-30 12:00:00 +0000 UTC")
}
