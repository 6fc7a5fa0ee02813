package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/internal/preflight"
)

var fleetCommand = &command{
	name:    "fleet",
	summary: "compare the fingerprints of running instances: do they all run the same plugins and settings?",
	usage:   "fleet [--file FILE] [--header 'NAME: VALUE']... [--timeout D] URL...",
	help: `Fetches the report of each instance (its report URL, as the host mounts
ReportHandler, e.g. http://10.0.0.5:8081/opa/report), all at once, and
groups the instances by their fingerprints: plugins (the host binary and
the plugins loaded, with their SHA-256) and settings (the effective
settings, redacted, without the per-instance ones such as listen
addresses). Where they differ, it prints the difference: which plugin, with
which SHA-256, module and version, on how many instances; which host
binary; which setting keys (never their values).

A plugin's SHA-256 is known when its folder has an opa.lock (opa lock) or
it is pinned; others are compared by module and version, and listed as
not hashed.

--header adds a request header, such as Authorization for an admin
listener; its value is never printed.

Exit status: 0 all instances agree, 1 they differ, 2 an instance could not
be read (named, with why) or a usage error.`,
	examples: `  opa fleet http://10.0.0.5:8081/opa/report http://10.0.0.6:8081/opa/report
  opa fleet --file instances.txt --header "Authorization: Bearer $TOKEN"`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		var o fleetOptions
		fs.StringVar(&o.file, "file", "", "read report URLs from `FILE`, one a line (# starts a comment)")
		fs.Var(&o.headers, "header", "send the request header `'NAME: VALUE'` (repeatable)")
		fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give each instance this long to answer")
		return func(c *cli, urls []string) int { return runFleet(c, o, urls) }
	},
}

type fleetOptions struct {
	file    string
	headers stringList
	timeout time.Duration
}

// instance is one instance's report, or why it could not be read.
type instance struct {
	url string
	rep opa.Report
	err error
}

// maxFetches bounds the requests in flight.
const maxFetches = 32

func runFleet(c *cli, o fleetOptions, urls []string) int {
	if o.file != "" {
		more, err := readURLs(o.file)
		if nr, ok := errors.AsType[*preflight.NotRegularError](err); ok {
			return c.usageErr("--file %s %s", o.file, nr.Reason())
		}
		if err != nil {
			return c.usageErr("--file %s: %v", o.file, cause(err))
		}
		urls = append(urls, more...)
	}
	if len(urls) == 0 {
		return c.usageErr("no URL given: name each instance's report URL, or --file")
	}
	header := http.Header{}
	for _, h := range o.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			// Without a colon the whole flag may be a secret
			// ("Authorization Bearer TOKEN"): show its first word only.
			if !ok {
				name, _, _ = strings.Cut(strings.TrimSpace(h), " ")
			}
			return c.usageErr("--header %q...: want 'NAME: VALUE' (the value is not shown)", name)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	insts := fetchAll(urls, header, o.timeout)
	var ok []*instance
	for _, in := range insts {
		if in.err != nil {
			c.errorf("%s: %v", in.url, in.err)
			continue
		}
		ok = append(ok, in)
	}
	same := compareFleet(c.stdout, ok)
	switch {
	case len(ok) < len(insts):
		fmt.Fprintf(c.stdout, "%d of %d instances could not be read\n", len(insts)-len(ok), len(insts))
		return exitUsage
	case !same:
		return exitFailed
	}
	return exitOK
}

// maxURLsSize is the most bytes a --file list of report URLs may have.
const maxURLsSize = 16 << 20

// readURLs reads one URL a line; blank lines and # comments are skipped. The
// file is read as opa reads a meta.json: a named pipe is refused, not
// waited on.
func readURLs(file string) ([]string, error) {
	b, err := preflight.ReadFile(file, "a list of report URLs", maxURLsSize)
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// fetchAll reads every instance's report, at most maxFetches at once, each
// bounded by timeout, and returns them in the order of urls.
func fetchAll(urls []string, header http.Header, timeout time.Duration) []*instance {
	client := &http.Client{Timeout: timeout}
	out := make([]*instance, len(urls))
	sem := make(chan struct{}, maxFetches)
	var wg sync.WaitGroup
	for i, u := range urls {
		out[i] = &instance{url: u}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i].rep, out[i].err = fetchReport(client, u, header, timeout)
		})
	}
	wg.Wait()
	return out
}

// fetchReport reads one report as JSON.
func fetchReport(client *http.Client, reportURL string, header http.Header, timeout time.Duration) (opa.Report, error) {
	var rep opa.Report
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reportURL, nil)
	if err != nil {
		return rep, fmt.Errorf("not a URL: %w", err)
	}
	req.Header = header.Clone()
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err // the URL is named already
	}
	if err != nil {
		return rep, fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		why := ""
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			why = ": give the admin listener's credentials with --header 'Authorization: ...'"
		}
		return rep, fmt.Errorf("answered %s%s (is it the host's report URL, e.g. /opa/report?)", resp.Status, why)
	}
	if err := decodeReport(resp.Body, &rep, maxReportSize); err != nil {
		return rep, err
	}
	if rep.Fingerprint == nil {
		return rep, errors.New("its report has no fingerprint: the host was built with an opa-go before fingerprints, or has not started; rebuild it with this opa-go")
	}
	return rep, nil
}

// maxReportSize is the most of an answer opa reads as a host's report: a
// report of thousands of plugins is a few megabytes.
const maxReportSize = 64 << 20

// decodeReport decodes a host's report from r, reading at most limit
// bytes of it (maxReportSize).
func decodeReport(r io.Reader, rep *opa.Report, limit int64) error {
	lr := &io.LimitedReader{R: r, N: limit}
	if err := json.NewDecoder(lr).Decode(rep); err != nil {
		if lr.N == 0 {
			return fmt.Errorf("not a report: it is more than %d bytes", limit)
		}
		return fmt.Errorf("not a report: %w", err)
	}
	return nil
}

// compareFleet prints the instances grouped by fingerprint, then each
// difference, and says whether they all agree.
func compareFleet(w io.Writer, insts []*instance) bool {
	if len(insts) == 0 {
		return true
	}
	type group struct {
		plugins, settings string
		urls              []string
	}
	var groups []*group
	for _, in := range insts {
		fp := in.rep.Fingerprint
		i := slices.IndexFunc(groups, func(g *group) bool { return g.plugins == fp.Plugins && g.settings == fp.Settings })
		if i < 0 {
			groups = append(groups, &group{plugins: fp.Plugins, settings: fp.Settings})
			i = len(groups) - 1
		}
		groups[i].urls = append(groups[i].urls, in.url)
	}
	fmt.Fprintf(w, "%s, %s\n", count(len(insts), "instance"), count(len(groups), "fingerprint"))
	for _, g := range groups {
		fmt.Fprintf(w, "\nplugins %s settings %s: %s\n", opa.Short(g.plugins), opa.Short(g.settings), count(len(g.urls), "instance"))
		for _, u := range g.urls {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	if len(groups) == 1 {
		fmt.Fprintln(w, "\nall instances agree")
		return true
	}
	fmt.Fprintln(w)
	printVariants(w, "host binary", insts, func(r opa.Report) string { return "build ID " + r.Fingerprint.Host })
	var names []string
	for _, in := range insts {
		for _, p := range in.rep.Plugins {
			if p.Loaded && !slices.Contains(names, p.Name) {
				names = append(names, p.Name)
			}
		}
	}
	slices.Sort(names)
	for _, name := range names {
		printVariants(w, "plugin "+name, insts, func(r opa.Report) string { return pluginVariant(r, name) })
	}
	keys := map[string]bool{}
	for _, in := range insts {
		for k := range in.rep.Fingerprint.SettingKeys {
			keys[k] = true
		}
	}
	var differ []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		values := map[string]bool{}
		for _, in := range insts {
			v, ok := in.rep.Fingerprint.SettingKeys[k]
			if !ok {
				v = "(not set)"
			}
			values[v] = true
		}
		if len(values) > 1 {
			differ = append(differ, fmt.Sprintf("%s (%d values)", k, len(values)))
		}
	}
	if len(differ) > 0 {
		fmt.Fprintf(w, "settings differ: %s\n", strings.Join(differ, ", "))
	}
	return false
}

// pluginVariant says how an instance runs plugin name.
func pluginVariant(r opa.Report, name string) string {
	i := slices.IndexFunc(r.Plugins, func(p opa.PluginReport) bool { return p.Name == name && p.Loaded })
	if i < 0 {
		return "not loaded"
	}
	p := r.Plugins[i]
	if p.Builtin {
		return "compiled in"
	}
	mod := strings.TrimSpace(p.Module + " " + p.Version)
	if p.SHA256 == "" {
		return "not hashed, " + mod
	}
	return "sha256 " + p.SHA256 + ", " + mod
}

// printVariants prints what, when the instances do not all agree on it:
// each variant with the instances that have it.
func printVariants(w io.Writer, what string, insts []*instance, variant func(opa.Report) string) {
	var order []string
	by := map[string][]string{}
	for _, in := range insts {
		v := variant(in.rep)
		if _, ok := by[v]; !ok {
			order = append(order, v)
		}
		by[v] = append(by[v], in.url)
	}
	if len(order) < 2 {
		return
	}
	fmt.Fprintf(w, "%s differs:\n", what)
	for _, v := range order {
		urls := by[v]
		shown := urls[:min(len(urls), 3)]
		more := ""
		if len(urls) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(urls)-len(shown))
		}
		fmt.Fprintf(w, "  %s on %s: %s%s\n", v, count(len(urls), "instance"), strings.Join(shown, ", "), more)
	}
}

// count is "1 instance", "2 instances".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
