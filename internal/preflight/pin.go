package preflight

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// Pin returns the pin of plugin name in pins: looked up as given, then
// lower-cased.
func Pin(pins map[string]string, name string) (string, bool) {
	if want, ok := pins[name]; ok {
		return want, true
	}
	want, ok := pins[strings.ToLower(name)]
	return want, ok
}

// CheckPin compares a plugin file with its pin in pins (plugin name → SHA-256
// in hex, looked up as given, then lower-cased), in constant time. A plugin
// without a pin passes unless require is set. The file's SHA-256 comes from
// fetch (nil: read now).
func CheckPin(name, file string, pins map[string]string, require bool, fetch *Prefetch) error {
	want, ok := Pin(pins, name)
	if !ok {
		if require {
			return fmt.Errorf("no SHA-256 pin, and PLUGIN_REQUIRE_SHA256 is set: add PLUGIN_SHA256.%s (sha256sum %s)", name, file)
		}
		return nil
	}
	wantSum, err := hex.DecodeString(strings.TrimSpace(want))
	if err != nil || len(wantSum) != sha256.Size {
		return fmt.Errorf("PLUGIN_SHA256.%s is not a SHA-256 in hex (64 characters): fix the pin", name)
	}
	got, err := fetch.SHA256(file)
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
