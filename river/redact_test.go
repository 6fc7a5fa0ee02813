package river_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opa-stack/opa-go/river"
	"github.com/opa-stack/opa-go/river/internal/testprog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A task's error that repeats a secret of its args (an API token under a
// secret-looking key) is redacted before River logs it and stores it with
// the job (where River UI shows it), at any length: a long token in place,
// a 3-character one by hiding the text.
func TestTaskErrorsAreRedacted(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		_, jobs := startHost(t, dbURL, nil)
		tokens := []string{"tok-Secret-12345", "k7Z"}
		var ids []int64
		for i, tok := range tokens {
			row, err := jobs.Enqueue(context.Background(), "test.leak", testprog.Args{N: i + 1, Token: tok}, &river.InsertOpts{MaxAttempts: 1})
			require.NoError(t, err)
			ids = append(ids, row.ID)
		}
		w := startWorker(t, dbURL, "TP_PLUGINS=leak")
		waitState(t, jobs, ids, "discarded", 60*time.Second)
		w.stop(30 * time.Second)

		for i, id := range ids {
			row, err := jobs.Job(context.Background(), id)
			require.NoError(t, err)
			require.Len(t, row.Errors, 1)
			assert.Contains(t, row.Errors[0].Error, "[REDACTED")
			assert.NotContains(t, unplaceholder(row.Errors[0].Error), tokens[i], "the job's stored error")
			assert.NotContains(t, unplaceholder(w.log.String()), tokens[i], "the worker's log")
		}
		row, err := jobs.Job(context.Background(), ids[0])
		require.NoError(t, err)
		assert.Contains(t, row.Errors[0].Error, "leak 1: GET https://api.example/v1?access_token=[REDACTED]: 401 Unauthorized", "the rest of the error stays")
	})
}

// unplaceholder is text without the redaction placeholders, which may hold
// a short secret's letters.
func unplaceholder(s string) string { return strings.ReplaceAll(s, "[REDACTED", "\x00") }
