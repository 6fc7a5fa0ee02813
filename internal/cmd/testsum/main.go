// Command testsum reads `go test -json` on stdin, prints what a reader of
// `go test` needs (each package's result line, the output of every failed
// test, the reason of every skipped one, build errors), and writes one line
// with the module's counts of passed, failed and skipped tests (subtests
// included) to DIR/MODULE, so that `make test` can end with one line per
// module and a skip is never silent. It exits 1 when a test or a package
// failed, or when go test printed no event at all.
//
//	go test -json ./... 2>&1 | testsum -module core -dir build/test-summary
//	testsum -print -dir build/test-summary core examples   # the lines, in order
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// event is one line of go test -json (see go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// counts are a module's results.
type counts struct {
	passed, failed, skipped int
	pkgFailed               bool
	events                  int
}

func (c counts) line(module string) string {
	s := fmt.Sprintf("%-9s %4d passed, %d failed, %d skipped", module+":", c.passed, c.failed, c.skipped)
	if c.failed == 0 && c.pkgFailed {
		s += " (a package failed to build or run)"
	}
	return s
}

func main() {
	module := flag.String("module", "", "the module's name in the summary")
	dir := flag.String("dir", "", "the directory of summary lines")
	print := flag.Bool("print", false, "print the summary lines of the modules named as arguments, in order, and exit")
	flag.Parse()
	if *print {
		for _, m := range flag.Args() {
			b, err := os.ReadFile(filepath.Join(*dir, m))
			if err != nil {
				fmt.Printf("%-9s not run\n", m+":")
				continue
			}
			fmt.Print(string(b))
		}
		return
	}
	c := summarise(os.Stdin, os.Stdout)
	if *dir != "" {
		err := os.MkdirAll(*dir, 0o755)
		if err == nil {
			err = os.WriteFile(filepath.Join(*dir, *module), []byte(c.line(*module)+"\n"), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(1)
		}
	}
	if c.failed > 0 || c.pkgFailed || c.events == 0 {
		os.Exit(1)
	}
}

// summarise reads go test -json from in, writes the short report to out and
// returns the counts.
func summarise(in io.Reader, out io.Writer) counts {
	var c counts
	output := map[string]*strings.Builder{} // per package and test, until it ends
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line) // not an event: a message of the go command
			continue
		}
		c.events++
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			if e.Test == "" {
				// A package's own lines: print its result line and
				// anything that is not a test's (a panic, a TestMain).
				if o := strings.TrimSpace(e.Output); o != "PASS" && o != "FAIL" && !strings.HasPrefix(o, "=== ") &&
					!strings.HasPrefix(o, "--- ") && !strings.HasPrefix(o, "coverage:") {
					fmt.Fprint(out, e.Output)
				}
				continue
			}
			b := output[key]
			if b == nil {
				b = &strings.Builder{}
				output[key] = b
			}
			b.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					c.pkgFailed = true
				}
				continue
			}
			b := output[key]
			delete(output, key)
			switch e.Action {
			case "pass":
				c.passed++
			case "fail":
				c.failed++
				if b != nil {
					fmt.Fprint(out, b.String())
				}
			case "skip":
				c.skipped++
				fmt.Fprintf(out, "    SKIP %s %s: %s\n", e.Package, e.Test, skipReason(b))
			}
		case "build-fail":
			c.pkgFailed = true
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testsum: reading go test -json: %v\n", err)
		c.pkgFailed = true
	}
	return c
}

// skipReason is the message a skipped test logged: its output less the
// === and --- lines.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var msg []string
	for l := range strings.Lines(b.String()) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		msg = append(msg, l)
	}
	if len(msg) == 0 {
		return "(no reason given)"
	}
	return strings.Join(msg, " ")
}
