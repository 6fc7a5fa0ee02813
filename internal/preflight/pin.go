package preflight

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
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

// CheckPin compares a plugin file's SHA-256, sum, with its pin in pins
// (see PinKey), in constant time. A plugin without a pin passes unless
// require is set. sum is read from the bytes that will be loaded, by the
// caller; nil when the plugin is pinned is an error.
func CheckPin(name, file string, pins map[string]string, require bool, sum []byte) error {
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
	if sum == nil {
		return fmt.Errorf("PLUGIN_SHA256.%s: the file's SHA-256 was not computed", name)
	}
	if subtle.ConstantTimeCompare(sum, wantSum) != 1 {
		return fmt.Errorf("SHA-256 mismatch: the file is %x, PLUGIN_SHA256.%s pins %x: this is not the file that was pinned; deploy the right one or update the pin", sum, name, wantSum)
	}
	return nil
}
