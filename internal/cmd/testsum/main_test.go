package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSummarise(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"run","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"=== RUN   TestB\n"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    x_test.go:9: redis-server is missing: apt-get install -y redis-server\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestC/sub","Output":"    x_test.go:12: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestC/sub"}`,
		`{"Action":"fail","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`# p [p.test]`,
	}, "\n")
	var out strings.Builder
	c := summarise(strings.NewReader(in), &out)
	assert.Equal(t, 1, c.passed)
	assert.Equal(t, 2, c.failed)
	assert.Equal(t, 1, c.skipped)
	assert.True(t, c.pkgFailed)
	assert.Equal(t, "mod:         1 passed, 2 failed, 1 skipped", c.line("mod"))
	assert.Contains(t, out.String(), "SKIP p TestB: x_test.go:9: redis-server is missing: apt-get install -y redis-server")
	assert.Contains(t, out.String(), "x_test.go:12: boom")
	assert.Contains(t, out.String(), "FAIL\tp\t0.1s")
	assert.Contains(t, out.String(), "# p [p.test]")
}
