package preflight

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// PinKey returns the key of plugin name's pin in pins: name as given, else
// lower-cased (viper lower-cases the keys of a settings map).
func PinKey(pins map[string]string, name string) (string, bool) {
	if _, ok := pins[name]; ok {
		return name, true
	}
	lower := strings.ToLower(name)
	_, ok := pins[lower]
	return lower, ok
}

// Pin returns the pin of plugin name in pins (see PinKey).
func Pin(pins map[string]string, name string) (string, bool) {
	key, ok := PinKey(pins, name)
	return pins[key], ok
}

// ParsePin decodes a pin: a SHA-256 in hex, as sha256sum prints it
// (spaces around it are ignored).
func ParsePin(pin string) ([]byte, error) {
	sum, err := hex.DecodeString(strings.TrimSpace(pin))
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("%q is not a SHA-256 in hex (64 characters, as sha256sum prints it)", pin)
	}
	return sum, nil
}

// CheckPin compares a plugin file with its pin in pins (see PinKey), in
// constant time. A plugin without a pin passes unless require is set. The
// file's SHA-256 comes from fetch (nil: read now).
func CheckPin(name, file string, pins map[string]string, require bool, fetch *Prefetch) error {
	want, ok := Pin(pins, name)
	if !ok {
		if require {
			return fmt.Errorf("no SHA-256 pin, and PLUGIN_REQUIRE_SHA256 is set: add PLUGIN_SHA256.%s (sha256sum %s)", name, file)
		}
		return nil
	}
	wantSum, err := ParsePin(want)
	if err != nil {
		return fmt.Errorf("PLUGIN_SHA256.%s: %w: fix the pin", name, err)
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
	f, _, err := OpenFile(file)
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
