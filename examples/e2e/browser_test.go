package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// browserDeadline bounds a whole browser test: starting Chromium, every
// page and every wait. Each single wait has a shorter bound of its own.
const browserDeadline = 2 * time.Minute

// stepDeadline bounds one step in the browser: a navigation, a wait, a
// query.
const stepDeadline = 20 * time.Second

// chromiumInstall is how to get the browser the tests drive.
const chromiumInstall = "apt-get update && apt-get install -y chromium"

// chromiumPath finds Chromium: $CHROMIUM if set, else chromium or
// chromium-browser on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	var errs []error
	for _, name := range []string{"chromium", "chromium-browser"} {
		p, err := exec.LookPath(name)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// browserTab is a headless Chromium tab, and what its page wrote to the
// console.
type browserTab struct {
	t   *testing.T
	ctx context.Context // the tab; bounded by browserDeadline

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
	marked   chan struct{} // closed when the console shows markText
}

// markText is what consoleMessages logs to know it has seen every message
// the page wrote before.
const markText = "opa-e2e: end of messages"

// newBrowser starts a headless Chromium with a fresh profile and opens one
// tab, or skips (fails under CI=true) where Chromium is missing or cannot
// start. The browser is stopped at the end of the test.
func newBrowser(t *testing.T) *browserTab {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("Chromium (%v)", err), chromiumInstall+", or set CHROMIUM to its path")
	}
	// Chromium's helper processes may still write into the profile for a
	// moment after it exits, so the profile is removed by a best effort and
	// not by t.TempDir, whose cleanup would fail the test.
	profile, err := os.MkdirTemp("", "opa-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })

	ctx, cancel := context.WithTimeout(context.Background(), browserDeadline)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // as root, Chromium refuses to start with its sandbox
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc) // waits for the browser to exit
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	// The first action starts the browser.
	if err := chromedp.Do(ctx); err != nil {
		testenv.Missing(t, fmt.Sprintf("a Chromium that starts (%s: %v)", path, err), chromiumInstall+", or set CHROMIUM to a browser that runs here")
	}
	b := &browserTab{t: t, ctx: ctx, marked: make(chan struct{})}
	msgs := chromedp.Console(ctx) // subscribes now: no message of the pages to come is lost
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			if m.Text == markText {
				close(b.marked)
			} else {
				b.messages = append(b.messages, m)
			}
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancelTab(); <-done })
	return b
}

// run runs actions in the tab, bounded by stepDeadline, and fails the test
// with what it was doing if they fail.
func (b *browserTab) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepDeadline)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page, bounded by
// stepDeadline.
func eval[T any](b *browserTab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepDeadline)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: evaluating %s: %v", expr, err)
	}
	return v
}

// consoleMessages returns every message the pages wrote to the console so
// far: it logs a mark and waits (bounded) until the mark arrives, so that
// every earlier message has too.
func (b *browserTab) consoleMessages() []chromedp.ConsoleMessage {
	b.t.Helper()
	eval[chromedp.Void](b, fmt.Sprintf("console.debug(%q)", markText))
	select {
	case <-b.marked:
	case <-time.After(stepDeadline):
		b.t.Fatalf("browser: the console did not show the mark %q within %s", markText, stepDeadline)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.messages)
}

// screenshot saves a full-page PNG of the tab as name in the examples'
// build directory (examples/build/e2e), where it outlives the test, and
// returns its path.
func (b *browserTab) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepDeadline)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot: %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("..", "build", "e2e"))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// describe lists console messages one a line, for a failure.
func describe(msgs []chromedp.ConsoleMessage) string {
	var s strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&s, "  %s (%s %s:%d)\n", m, m.Source, m.URL, m.Line)
	}
	return s.String()
}
