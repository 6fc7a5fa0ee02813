package opa

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// checkTrust runs the trust checks a Config asks for on a chosen .so file:
// its permissions and those of the directories it lives in (up to the
// search path), and its SHA-256 pin.
func (c Config) checkTrust(name, file, searchPath string) error {
	if !c.AllowInsecurePermissions {
		for _, p := range trustPaths(file, searchPath) {
			if err := checkPermissions(p); err != nil {
				return fmt.Errorf("%w, or set PLUGIN_ALLOW_INSECURE_PERMISSIONS=true for development", err)
			}
		}
	}
	if err := c.checkPin(name, file); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// trustPaths are the file, and every directory from it up to the search
// path: whoever can write one of them can swap the plugin.
func trustPaths(file, searchPath string) []string {
	out := []string{file}
	stop := filepath.Clean(searchPath)
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		out = append(out, dir)
		if dir == stop || dir == filepath.Dir(dir) {
			return out
		}
	}
}

// checkPin compares a plugin file with its PLUGIN_SHA256 pin, in constant
// time. A plugin without a pin passes unless PLUGIN_REQUIRE_SHA256 is set.
func (c Config) checkPin(name, file string) error {
	want, ok := c.PluginSHA256[name]
	if !ok {
		want, ok = c.PluginSHA256[strings.ToLower(name)]
	}
	if !ok {
		if c.RequireSHA256 {
			return fmt.Errorf("no SHA-256 pin, and PLUGIN_REQUIRE_SHA256 is set: add PLUGIN_SHA256.%s (sha256sum %s)", name, file)
		}
		return nil
	}
	wantSum, err := hex.DecodeString(strings.TrimSpace(want))
	if err != nil || len(wantSum) != sha256.Size {
		return fmt.Errorf("PLUGIN_SHA256.%s is not a SHA-256 in hex (64 characters): fix the pin", name)
	}
	got, err := fileSHA256(file)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, wantSum) != 1 {
		return fmt.Errorf("SHA-256 mismatch: the file is %x, PLUGIN_SHA256.%s pins %x: this is not the file that was pinned; deploy the right one or update the pin", got, name, wantSum)
	}
	return nil
}

func fileSHA256(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("reading %s for its SHA-256: %w", file, err)
	}
	return h.Sum(nil), nil
}
