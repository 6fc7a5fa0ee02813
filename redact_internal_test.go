package opa

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSecretKeyWords(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "db_password": true, "dbpassword": true, "passwd": true, "pass": true, "pwd": true,
		"secret": true, "client_secret": true, "token": true, "access_token": true, "authtoken": true,
		"api_key": true, "apikey": true, "private_key": true, "privateKey": true, "key": true, "credentials": true,
		"auth": true, "authorization": true, "Authorization": true, "api-key": true, "passphrase": true,
		"sslpassword": true, "access_key": true, "sas": true, "sig": true,
		"keyspace": false, "key_prefix": false, "author": false, "authors": false, "host": false,
		"monkey": false, "passenger": false, "id": false, "tokenizer": false, "url": false, "sslmode": false,
	} {
		assert.Equal(t, want, secretKey(key), key)
	}
}

// TestRedactConnectionStrings covers each way a connection string holds a
// secret, written as it is and percent-encoded, with a driver that repeats
// the string in its error, as pgx, lib/pq and go-redis do. No form of a
// secret may show; the scheme, host, port, database and user stay.
func TestRedactConnectionStrings(t *testing.T) {
	cases := []struct {
		name    string
		dsn     string
		secrets []string // the secret as written and as decoded
		shown   []string // what must stay visible
	}{
		{"URL, password in the query", "postgres://app@db.internal:5432/app?sslmode=disable&password=Hunter2Query",
			[]string{"Hunter2Query"}, []string{"postgres://app@db.internal:5432/app?sslmode=disable&password=[REDACTED]"}},
		{"URL, password in the query, encoded", "postgres://app@db.internal:5432/app?sslmode=disable&password=Hunter2%26Qu%3Dery",
			[]string{"Hunter2%26Qu%3Dery", "Hunter2&Qu=ery"}, []string{"postgres://app@db.internal:5432/app?sslmode=disable&password=[REDACTED]"}},
		{"URL, sslpassword and a token in the query", "postgres://app@db.internal:5432/app?sslpassword=Hunter2Ssl&sslmode=require&access_token=tok3nValue",
			[]string{"Hunter2Ssl", "tok3nValue"}, []string{"db.internal:5432/app?sslpassword=[REDACTED]&sslmode=require&access_token=[REDACTED]"}},
		{"URL, an Azure SAS signature", "azblob://acct.blob.core.windows.net/c?sv=2024&sig=AbC%2Bsig%3D",
			[]string{"AbC%2Bsig%3D", "AbC+sig="}, []string{"azblob://acct.blob.core.windows.net/c?sv=2024&sig=[REDACTED]"}},
		{"libpq key=value", "host=db.internal user=app password=Hunter2KeyVal dbname=app",
			[]string{"Hunter2KeyVal"}, []string{"host=db.internal user=app password=[REDACTED] dbname=app"}},
		{"libpq key=value, quoted", `host=db.internal port=5432 user=app password='Hun ter2\'KeyVal' sslpassword = s5lKeyPass dbname=app`,
			[]string{`Hun ter2\'KeyVal`, `Hun ter2'KeyVal`, "s5lKeyPass"}, []string{"host=db.internal port=5432 user=app password=[REDACTED] sslpassword = [REDACTED] dbname=app"}},
		{"URL, '#' in the password", "redis://:Hunter2#Frag@cache.internal:6379/0",
			[]string{"Hunter2#Frag", "Hunter2"}, []string{"redis://:[REDACTED]@cache.internal:6379/0"}},
		{"URL, '#' in the password, encoded", "redis://:Hunter2%23Frag@cache.internal:6379/0",
			[]string{"Hunter2%23Frag", "Hunter2#Frag"}, []string{"redis://:[REDACTED]@cache.internal:6379/0"}},
		{"URL, '/' in the password", "redis://:Hunt/er2Slash@cache.internal:6379/0",
			[]string{"Hunt/er2Slash", "er2Slash"}, []string{"redis://:[REDACTED]@cache.internal:6379/0"}},
		{"URL, '/' in the password, encoded", "redis://:Hunt%2Fer2Slash@cache.internal:6379/0",
			[]string{"Hunt%2Fer2Slash", "Hunt/er2Slash"}, []string{"redis://:[REDACTED]@cache.internal:6379/0"}},
		{"URL, '@' and ':' in the password", "redis://app:p@ss:w0rd!@cache.internal:6379/0",
			[]string{"p@ss:w0rd!"}, []string{"redis://app:[REDACTED]@cache.internal:6379/0"}},
		{"URL, '@' and ':' in the password, encoded", "redis://app:p%40ss%3Aw0rd%21@cache.internal:6379/0",
			[]string{"p%40ss%3Aw0rd%21", "p@ss:w0rd!"}, []string{"redis://app:[REDACTED]@cache.internal:6379/0"}},
		{"URL, a user that cannot be told from its password: userinfo hidden whole", "redis://ad/min:Hunter2Both@cache.internal:6379/0",
			[]string{"ad/min:Hunter2Both", "Hunter2Both"}, []string{"redis://[REDACTED]@cache.internal:6379/0"}},
		{"URL, 3-character password", "redis://app:x9Q@cache.internal:6379/0",
			[]string{"x9Q"}, []string{"redis://app:[REDACTED]@cache.internal:6379/0"}},
		{"URL, 3-character password in the query", "postgres://app@db.internal:5432/app?password=x9Q&sslmode=disable",
			[]string{"x9Q"}, []string{"postgres://app@db.internal:5432/app?password=[REDACTED]&sslmode=disable"}},
		{"libpq key=value, 3-character password", "host=db.internal user=app password=x9Q",
			[]string{"x9Q"}, []string{"host=db.internal user=app password=[REDACTED]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRedactor(map[string]ComponentConfig{"db": {Opts: Options{"url": tc.dsn}}})
			texts := map[string]string{
				"the option in a log line": fmt.Sprint(redactOptions(map[string]any{"url": tc.dsn})),
				"a driver error":           r.scrub("connect: dial " + tc.dsn + ": connection refused"),
			}
			if u, err := url.Parse(tc.dsn); err == nil {
				texts["a driver error with the URL parsed and printed again"] = r.scrub("connect: " + u.String() + ": refused")
			}
			for where, text := range texts {
				for _, secret := range tc.secrets {
					assert.NotContains(t, masked(text), secret, where)
				}
			}
			for _, shown := range tc.shown {
				assert.Contains(t, texts["a driver error"], shown)
				assert.Contains(t, texts["the option in a log line"], shown)
			}
			assert.Contains(t, texts["a driver error"], "connection refused")
		})
	}
}

// A short secret that shows outside its option's text cannot be told from
// an ordinary word: the text is hidden whole rather than leak it.
func TestRedactShortSecretHidesText(t *testing.T) {
	r := newRedactor(map[string]ComponentConfig{"db": {Opts: Options{"url": "redis://app:x9Q@cache.internal:6379/0", "password": "k7"}}})
	assert.Equal(t, "dial redis://app:[REDACTED]@cache.internal:6379/0: refused", r.scrub("dial redis://app:x9Q@cache.internal:6379/0: refused"))
	assert.Equal(t, "auth map[password:[REDACTED]] failed", r.scrub("auth map[password:k7] failed"))
	assert.Equal(t, hiddenText, r.scrub("WRONGPASS invalid password x9Q for user app"))
	assert.Equal(t, hiddenText, r.scrub("token k7 expired"))
	assert.Equal(t, "no secret here", r.scrub("no secret here"))
}

// Ordinary option values are no connection strings, and booleans under
// secret keys are no secrets.
func TestRedactLeavesOrdinaryText(t *testing.T) {
	for _, s := range []string{"hello world", "a=b c", "https://example.com/path?q=1", "mailto:a@b", "x = 1 and y", "redis://cache:6379/0"} {
		assert.Equal(t, s, redactString(s), s)
	}
	r := newRedactor(map[string]ComponentConfig{"c": {Opts: Options{"auth": true, "url": "https://example.com"}}})
	assert.Equal(t, "ping: true", r.scrub("ping: true"))
}

// masked is text without the placeholders, where a short secret such as
// "ED]" would otherwise be found.
func masked(text string) string {
	return strings.ReplaceAll(strings.ReplaceAll(text, hiddenText, "\x00"), redacted, "\x00")
}

// FuzzRedactDSN writes a generated password into each form of connection
// string, as is and escaped, and asserts that it shows nowhere in the
// error of a driver that repeats the string.
func FuzzRedactDSN(f *testing.F) {
	for _, pw := range []string{"Hunter2Query", "Hunter2#Frag", "Hunt/er2Slash", "x9Q", "p@ss:w0rd", "a b'c\\d", "?&=", "%zz", "ED]"} {
		f.Add(pw)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if pw == "" || strings.ContainsAny(pw, "\x00") {
			return
		}
		quoted := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw)
		forms := []string{
			"postgres://app@db.internal:5432/app?sslmode=disable&password=" + url.QueryEscape(pw),
			"host=db.internal user=app password='" + quoted + "' dbname=app",
			"redis://:" + pw + "@cache.internal:6379/0",
			"redis://app:" + url.PathEscape(pw) + "@cache.internal:6379/0",
			"redis://app:" + strings.TrimPrefix(url.UserPassword("", pw).String(), ":") + "@cache.internal:6379/0",
		}
		for _, dsn := range forms {
			r := newRedactor(map[string]ComponentConfig{"c": {Opts: Options{"url": dsn}}})
			msg := masked(r.wrap(fmt.Errorf("connect: dial %s: connection refused", dsn)).Error())
			if strings.Contains(msg, pw) {
				t.Fatalf("password %q shows in the redacted error of %q: %s", pw, dsn, msg)
			}
		}
	})
}
