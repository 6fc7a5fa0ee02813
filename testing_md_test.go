package opa_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

// testRef is one `FILE:NAME` in TESTING.md.
var testRef = regexp.MustCompile("`([A-Za-z0-9_./-]+_test\\.go):((?:Test|Example|Fuzz|Benchmark)[A-Za-z0-9_]*)`")

// TestTestingMDNamesExistingTests: every row of TESTING.md's tables names
// at least one test, and every test it names exists, as a top-level func of
// that file (the file from the repository root, whatever its module).
func TestTestingMDNamesExistingTests(t *testing.T) {
	md, err := os.ReadFile("TESTING.md")
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]map[string]bool{} // file -> its top-level funcs
	rows := 0
	for n, line := range strings.Split(string(md), "\n") {
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| rule |") || strings.HasPrefix(line, "| entry |") {
			continue
		}
		rows++
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 2 || strings.TrimSpace(cells[0]) == "" {
			t.Errorf("TESTING.md:%d: want two cells, a rule and its tests: %s", n+1, line)
			continue
		}
		refs := testRef.FindAllStringSubmatch(cells[1], -1)
		if len(refs) == 0 {
			t.Errorf("TESTING.md:%d: no test for %q: write one", n+1, cells[0])
		}
		for _, r := range refs {
			file, name := r[1], r[2]
			if funcs[file] == nil {
				funcs[file] = topLevelFuncs(t, file)
			}
			if !funcs[file][name] {
				t.Errorf("TESTING.md:%d: %s has no func %s (for %q)", n+1, file, name, cells[0])
			}
		}
	}
	if rows < 100 {
		t.Errorf("TESTING.md has %d rows: its tables were not read", rows)
	}
}

// topLevelFuncs parses a Go file and returns the names of its top-level
// funcs (none if it cannot be read).
func topLevelFuncs(t *testing.T, file string) map[string]bool {
	out := map[string]bool{}
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Errorf("TESTING.md names %s: %v", file, err)
		return out
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
			out[fd.Name.Name] = true
		}
	}
	return out
}
