package testenv

import (
	"testing"
	"time"
)

// returnsWithin bounds Returns: far above what a call that does not block
// takes on a loaded machine, far below the test binary's timeout.
const returnsWithin = 30 * time.Second

// Returns runs fn on a goroutine of its own and returns its result, or
// fails the test, saying what still waits, when fn has not returned
// within 30 s: for the tests that a read of a named pipe, or any open
// that could block, no longer waits for ever. fn must not call t's
// FailNow (require) itself.
func Returns[T any](t testing.TB, what string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(returnsWithin):
		t.Fatalf("%s still waits after %s", what, returnsWithin)
		panic("unreachable")
	}
}
