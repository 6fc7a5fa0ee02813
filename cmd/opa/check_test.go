package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raceMismatch is what the host says of a plugin built with the opposite
// -race.
func raceMismatch() string {
	if raceEnabled {
		return "built without -race, host built with -race: rebuild the plugin with -race"
	}
	return "built with -race, host built without -race: rebuild the plugin without -race"
}

func TestCheckThenBuild(t *testing.T) {
	f := fixtures(t)
	root := repoRoot(t)
	empty := filepath.Join(t.TempDir(), "empty.so")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))

	// A plugin built with the wrong -race, and an empty file: refused, saying why.
	res := runOpa(t, root, nil, "check", "--host", f.host, f.flipped, f.hello, empty)
	assert.Equal(t, 1, res.code, res.stderr)
	assert.Equal(t, f.flipped+": REFUSED\n"+
		"    package runtime differs from the host's copy, so plugin.Open would refuse it:\n"+
		"    "+raceMismatch()+"\n"+
		f.hello+": OK\n"+
		empty+": REFUSED\n"+
		"    is empty (0 bytes): rebuild it or copy it again\n", res.stdout)

	// build --host builds it right, says how, and checks it.
	out := filepath.Join(t.TempDir(), "plugins")
	res = runOpa(t, root, nil, "build", "--host", f.host, "-o", out, "./testdata/plugins/hello")
	require.Equal(t, 0, res.code, res.stdout+res.stderr)
	built := filepath.Join(out, "hello.so")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 2, res.stdout)
	race := ""
	if raceEnabled {
		race = " -race"
	}
	assert.True(t, strings.HasPrefix(lines[0], "CGO_ENABLED=1 GOOS="+runtime.GOOS+" GOARCH="+runtime.GOARCH+" "), lines[0])
	assert.Contains(t, lines[0], " GOEXPERIMENT= go build -buildmode=plugin"+race+" -modfile=", lines[0])
	assert.True(t, strings.HasSuffix(lines[0], " -mod=mod -o "+filepath.Join(out, ".hello.so.tmp")+" "+module+"/testdata/plugins/hello"), lines[0])
	assert.Equal(t, built+": OK", lines[1])

	res = runOpa(t, root, nil, "check", "--host", f.host, built)
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, built+": OK\n", res.stdout)
}

func TestBuildRefusesAPackageThatIsNotMain(t *testing.T) {
	f := fixtures(t)
	res := runOpa(t, repoRoot(t), nil, "build", "--host", f.host, "-o", t.TempDir(), ".")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "opa build: "+module+" is package opa: a plugin must be a package main")
	assert.Empty(t, res.stdout, "nothing was built")
}
