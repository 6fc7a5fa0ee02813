//go:build cgo && (linux || darwin || freebsd)

package opa

import "plugin"

// soSupported is true when this binary can open .so plugins.
const soSupported = true

// soUnsupportedReason is empty where .so plugins work.
const soUnsupportedReason = ""

// openSO opens a .so file and looks up its exported Plugin symbol.
func openSO(file string) (plugin.Symbol, error) {
	p, err := plugin.Open(file)
	if err != nil {
		return nil, err
	}
	return p.Lookup("Plugin")
}
