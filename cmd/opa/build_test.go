package main

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostInfo is build information with the given settings, "KEY=VALUE".
func hostInfo(goVersion string, settings ...string) *debug.BuildInfo {
	info := &debug.BuildInfo{GoVersion: goVersion}
	for _, kv := range settings {
		k, v, _ := cutEq(kv)
		info.Settings = append(info.Settings, debug.BuildSetting{Key: k, Value: v})
	}
	return info
}

func cutEq(kv string) (string, string, bool) {
	for i := 1; i < len(kv); i++ { // a key may start with "-" but holds no "="
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func TestBuildPlan(t *testing.T) {
	p := buildPlan(hostInfo("go1.26.8",
		"-buildmode=exe", "-compiler=gc", "-race=true", "-trimpath=true", "-cover=false",
		"-tags=netgo,opa", "-gcflags=all=-N -l", "-ldflags=-s -w",
		"CGO_ENABLED=1", "CGO_CFLAGS=-O2", "GOARCH=amd64", "GOOS=linux", "GOAMD64=v3", "GOEXPERIMENT=jsonv2",
		"vcs=git"))
	assert.Equal(t, []string{"-race", "-trimpath", "-tags=netgo,opa", "-gcflags=all=-N -l"}, p.flags,
		"what changes the code; not -ldflags, not -cover=false")
	assert.Equal(t, []string{"CGO_ENABLED=1", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v3", "GOEXPERIMENT=jsonv2"}, p.env)
	assert.Equal(t, "go1.26.8 -race -trimpath -tags=netgo,opa -gcflags=all=-N -l CGO_ENABLED=1 GOOS=linux GOARCH=amd64 GOAMD64=v3 GOEXPERIMENT=jsonv2", p.describe())
	assert.Equal(t, "CGO_ENABLED=1 GOOS=linux GOARCH=amd64 GOAMD64=v3 GOEXPERIMENT=jsonv2 go build -buildmode=plugin -race -trimpath -tags=netgo,opa -gcflags='all=-N -l' -o 'out dir/x.so' ./x",
		shellLine(p.env, "go", append(append([]string{"build", "-buildmode=plugin"}, p.flags...), "-o", "out dir/x.so", "./x")))

	plain := buildPlan(hostInfo("go1.26.8", "CGO_ENABLED=1", "GOOS=linux", "GOARCH=arm64", "GOARM64=v8.0"))
	assert.Empty(t, plain.flags)
	assert.Equal(t, []string{"CGO_ENABLED=1", "GOOS=linux", "GOARCH=arm64", "GOARM64=v8.0", "GOEXPERIMENT="}, plain.env,
		"GOEXPERIMENT is cleared when the host had none")
}

func TestToolchainError(t *testing.T) {
	p := buildPlan(hostInfo("go1.26.8"))
	assert.NoError(t, p.toolchainError("go1.26.8"))
	assert.EqualError(t, p.toolchainError("go1.26.7"),
		"the host was built with go1.26.8, and the go command here is go1.26.7: plugins must be built with the host's Go version; install go1.26.8, or run opa build again with GOTOOLCHAIN=go1.26.8")
	assert.NoError(t, buildPlan(hostInfo("go1.26.8 X:jsonv2")).toolchainError("go1.26.8"), "experiments are matched by GOEXPERIMENT")
}

func TestCannotLoad(t *testing.T) {
	assert.Empty(t, cannotLoad(hostInfo("go1.26.8", "CGO_ENABLED=1", "GOOS=linux")))
	assert.Contains(t, cannotLoad(hostInfo("go1.26.8", "CGO_ENABLED=0", "GOOS=linux")), "rebuild the host with CGO_ENABLED=1")
	assert.Contains(t, cannotLoad(hostInfo("go1.26.8", "CGO_ENABLED=1", "GOOS=windows")), "GOOS=windows")

	other := "arm64"
	if runtime.GOARCH == other {
		other = "amd64"
	}
	assert.Equal(t, []string{"the host was built for GOARCH=" + other + ", and the ELF check compares with this machine (" + runtime.GOARCH + "): run opa on a machine like the host's"},
		hostWarnings(hostInfo("go1.26.8", "CGO_ENABLED=1", "GOOS=linux", "GOARCH="+other)))
	assert.Empty(t, hostWarnings(hostInfo("go1.26.8", "CGO_ENABLED=1", "GOOS=linux", "GOARCH="+runtime.GOARCH)))
}

func TestCheckReasons(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.so")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	assert.Equal(t, []string{"is empty (0 bytes): rebuild it or copy it again"}, checkReasons(file, hostInfo("go1.26.8")))
}
