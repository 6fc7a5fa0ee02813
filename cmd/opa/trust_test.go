package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckAndLsGiveTheSamePermissionReason: a plugin that is a symlink to a
// file in a world-writable directory is refused by opa check and opa ls
// with the host's own words, and both accept it with the development
// override.
func TestCheckAndLsGiveTheSamePermissionReason(t *testing.T) {
	f := fixtures(t)
	root := t.TempDir()
	for _, d := range []string{"shared", "p", "settings", "default"} {
		require.NoError(t, os.Mkdir(filepath.Join(root, d), 0o755))
	}
	target := filepath.Join(root, "shared", "hello.so")
	require.NoError(t, os.Link(f.hello, target))
	require.NoError(t, os.Chmod(filepath.Join(root, "shared"), 0o777))
	link := filepath.Join(root, "p", "hello.so")
	require.NoError(t, os.Symlink(target, link))
	reason := "trust: " + root + "/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace " + target +
		", the target of the symlink " + link + ": run chmod o-w " + root + "/shared, or set OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true for development"
	ls := []string{"ls", "--settings", root + "/settings", "--path", root + "/p", "--default-path", root + "/default", "--host", f.host}

	res := runOpa(t, root, nil, "check", "--host", f.host, link)
	assert.Equal(t, 1, res.code, res.stderr)
	assert.Equal(t, link+": REFUSED\n    "+reason+"\n", res.stdout)

	res = runOpa(t, root, nil, ls...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, [][]string{{"hello", root + "/p/hello", "-", "refuse", reason}}, tableRows(t, res.stdout))
	assert.NotContains(t, res.stdout, "NOT checked")

	insecure := []string{"OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true"}
	res = runOpa(t, root, insecure, "check", "--host", f.host, link)
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, link+": OK\n", res.stdout)

	res = runOpa(t, root, insecure, ls...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, [][]string{{"hello", root + "/p/hello", "-", "load", ""}}, tableRows(t, res.stdout))
	assert.Contains(t, res.stdout, "trust:    permissions NOT checked: OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true (development only)\n")
}

// TestLsRefusesWorldWritableSettings: opa ls reads the settings as the host
// does, so a settings file others can write stops it with the host's error.
func TestLsRefusesWorldWritableSettings(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "settings", "a.yaml")
	require.NoError(t, os.Mkdir(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte("development:\n  PLUGIN_PATHS: [/p]\n"), 0o644))
	require.NoError(t, os.Chmod(file, 0o666))
	res := runOpa(t, root, nil, "ls", "--settings", root+"/settings")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "opa: config "+file+": trust: "+file+" is writable by every user (mode 0666, bit o+w), so anyone can change it: run chmod o-w "+file)
}
