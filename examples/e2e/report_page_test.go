package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// injected is the meta.json description of the probe plugin: markup and a
// script that, were they rendered as HTML, would add an element and set a
// global. The page must show it as text.
const injected = `<script>window.opaInjected = true</script><b id="injected">bold?</b>`

// probePluginDir is a plugin directory holding one candidate, probe, whose
// meta.json holds injected. Its tag, formal, is blacklisted by the example
// settings, so the host never opens its (empty) file.
func probePluginDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "probe.so"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	meta := `{"tags": ["formal"], "description": ` + jsonString(injected) + `}`
	if err := os.WriteFile(filepath.Join(dir, "probe-meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// jsonString quotes s as a JSON string (also a JavaScript one).
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	return string(b)
}

// colorScheme makes the tab prefer a dark or a light color scheme, as a
// system setting would.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// rowTexts is the JavaScript for the text of each element that sel matches,
// whitespace collapsed.
func rowTexts(sel string) string {
	return `[...document.querySelectorAll(` + jsonString(sel) + `)].map(e => e.textContent.replace(/\s+/g, " ").trim())`
}

// TestReportPageInBrowser opens /opa/report of the example host, with the
// example settings and no Redis, in headless Chromium.
func TestReportPageInBrowser(t *testing.T) {
	b := newBrowser(t) // first: without a browser, skip before building the examples
	// The probe lives in the default path (a later variable wins).
	h := startHost(t, t.TempDir(), hostEnv(t, "OPA_PLUGIN_DEFAULT_PATH="+probePluginDir(t)))

	// A note queues a job: the jobs component's status counts it.
	if code, body := h.do("POST", "/notes", "buy milk"); code != 201 {
		t.Fatalf("POST /notes: %d %s", code, body)
	}
	// The script shows the filter box: it ran, under the page's CSP.
	b.run("open the report page", chromedp.Navigate(h.admin+"/opa/report"), chromedp.WaitVisible(chromedp.CSS("#filter")))
	if title := eval[string](b, "document.title"); title != "opa report · started" {
		t.Errorf("title %q, want %q", title, "opa report · started")
	}

	t.Run("fullname_formal is skipped by its tag filter", func(t *testing.T) {
		badge := eval[string](b, `document.querySelector('tr[data-plugin="fullname_formal"] .badge').textContent`)
		detail := eval[string](b, `document.querySelector('tr[data-plugin="fullname_formal"] .detail').textContent`)
		reason := eval[string](b, `document.querySelector('tr[data-plugin="fullname_formal"] .reason').textContent`)
		if badge != "skipped" || detail != "by PLUGIN_BLACKLIST_TAGS" || reason != "has a tag in PLUGIN_BLACKLIST_TAGS" {
			t.Errorf("fullname_formal shows %q, %q, %q; want skipped by PLUGIN_BLACKLIST_TAGS", badge, detail, reason)
		}
	})

	t.Run("redis is unavailable without a Redis", func(t *testing.T) {
		state := eval[string](b, `document.querySelector('tr[data-component="redis"] .badge').textContent`)
		errText := eval[string](b, `document.querySelector('tr[data-component="redis"] .reason').textContent`)
		if state != "unavailable" || errText == "" {
			t.Errorf("redis shows state %q, error %q; want unavailable with the error", state, errText)
		}
	})

	t.Run("the job queue shows its counts as a table", func(t *testing.T) {
		head := eval[[]string](b, rowTexts(`tr[data-component="jobs"] table.grid thead th`))
		rows := eval[[]string](b, `[...document.querySelectorAll('tr[data-component="jobs"] table.grid tbody tr')].map(r => [...r.cells].map(c => c.textContent).join("|"))`)
		if !slices.Equal(head, []string{"", "available"}) || !slices.Equal(rows, []string{"default|1"}) {
			t.Errorf("the jobs component's status shows columns %q, rows %q; want [\"\" available] and [default|1]", head, rows)
		}
	})

	t.Run("a script in meta is text", func(t *testing.T) {
		shown := eval[string](b, `document.querySelector('tr[data-plugin="probe"] .meta dd').textContent`)
		if shown != injected {
			t.Errorf("probe's description shows as %q, want the text %q", shown, injected)
		}
		if n := eval[int](b, `document.scripts.length`); n != 1 {
			t.Errorf("the page has %d <script> elements, want its own 1", n)
		}
		if eval[bool](b, `window.opaInjected === true || document.getElementById("injected") !== null`) {
			t.Error("the meta's markup was rendered as HTML")
		}
	})

	// The screenshot for the README, before the filter narrows anything.
	b.screenshot("report.png")

	t.Run("the page follows a dark preference", func(t *testing.T) {
		light := eval[string](b, `getComputedStyle(document.body).backgroundColor`)
		b.run("prefer a dark scheme", colorScheme("dark"))
		dark := eval[string](b, `getComputedStyle(document.body).backgroundColor`)
		if light != "rgb(246, 247, 249)" || dark != "rgb(17, 20, 24)" {
			t.Errorf("the page's background is %s when light is preferred and %s when dark is, want rgb(246, 247, 249) and rgb(17, 20, 24)", light, dark)
		}
		b.screenshot("report-dark.png")
		b.run("back to a light scheme", colorScheme("light"))
	})

	t.Run("the page fits a phone", func(t *testing.T) {
		b.run("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		if overflow := eval[int](b, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); overflow > 0 {
			t.Errorf("on a 390px phone the page is %dpx wider than the screen", overflow)
		}
		if font := eval[string](b, `getComputedStyle(document.querySelector("td")).fontSize`); font != "15px" {
			t.Errorf("table text on a phone is %s, want 15px", font)
		}
		b.screenshot("report-phone.png")
		b.run("back to the desktop window", chromedp.EmulateReset())
	})

	t.Run("the filter box narrows every table", func(t *testing.T) {
		all := eval[[]string](b, `[...document.querySelectorAll("#plugins tbody tr:not([hidden])")].map(r => r.dataset.plugin)`)
		if len(all) < 10 {
			t.Fatalf("before filtering the plugin table shows %v, want every plugin", all)
		}
		b.run("type into the filter", chromedp.SendKeys(chromedp.CSS("#filter"), "fullname"))
		got := eval[[]string](b, `[...document.querySelectorAll("#plugins tbody tr:not([hidden])")].map(r => r.dataset.plugin)`)
		if !slices.Equal(got, []string{"fullname", "fullname_formal"}) {
			t.Errorf("filtered by \"fullname\", the plugin table shows %v, want [fullname fullname_formal]", got)
		}
		hooks := eval[[]string](b, `[...document.querySelectorAll("#hooks tbody tr:not([hidden])")].map(r => r.dataset.hook)`)
		if !slices.Equal(hooks, []string{"fullname"}) {
			t.Errorf("filtered by \"fullname\", the hook table shows %v, want [fullname]", hooks)
		}
		if n := eval[string](b, `document.querySelector("#plugins h2 .n").textContent`); n != "2 of "+strconv.Itoa(len(all)) {
			t.Errorf("the plugin count shows %q, want \"2 of %d\"", n, len(all))
		}
		if n := eval[int](b, `document.querySelectorAll("table.grid tr[hidden]").length`); n != 0 {
			t.Errorf("the filter hid %d rows inside a status table, want none: it filters the sections' own rows", n)
		}
		b.run("type a filter nothing matches", chromedp.SendKeys(chromedp.CSS("#filter"), "-nothing-has-this"))
		if none := eval[[]string](b, rowTexts("#routes tbody tr:not([hidden])")); len(none) != 1 || !strings.HasPrefix(none[0], "Nothing matches") {
			t.Errorf("with no match the route table shows %q, want one \"Nothing matches\" row", none)
		}
	})

	if msgs := b.consoleMessages(); len(msgs) > 0 {
		t.Errorf("the page wrote to the console:\n%s", describe(msgs))
	}
	h.stop()
}

// TestReportPageShowsHookCandidates opens the report of a host where both
// fullname plugins load, and reads the fullname hook's candidates.
func TestReportPageShowsHookCandidates(t *testing.T) {
	b := newBrowser(t) // first: without a browser, skip before building the examples
	h := startHost(t, t.TempDir(), hostEnv(t, "OPA_PLUGIN_BLACKLIST_TAGS=[]"))

	b.run("open the report page", chromedp.Navigate(h.admin+"/opa/report"), chromedp.WaitVisible(chromedp.CSS(`tr[data-hook="fullname"]`)))
	got := eval[[]string](b, rowTexts(`tr[data-hook="fullname"] .candidates li`))
	want := []string{"fullname order 1", "fullname_formal order 2 wins"}
	if !slices.Equal(got, want) {
		t.Errorf("the fullname hook lists %q, want %q", got, want)
	}
	winner := eval[string](b, `document.querySelector('tr[data-hook="fullname"] td[data-label="Winner"]').textContent.replace(/\s+/g, " ").trim()`)
	if winner != "fullname_formal order 2" {
		t.Errorf("the fullname hook's winner shows %q, want \"fullname_formal order 2\"", winner)
	}
	if msgs := b.consoleMessages(); len(msgs) > 0 {
		t.Errorf("the page wrote to the console:\n%s", describe(msgs))
	}
	h.stop()
}
