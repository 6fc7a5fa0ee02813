//go:build !cgo || !(linux || darwin || freebsd)

package opa

import (
	"plugin"
	"runtime"
)

// soSupported is true when this binary can open .so plugins.
const soSupported = false

// soUnsupportedReason says why this binary cannot open .so plugins.
var soUnsupportedReason = "this host was built with CGO_ENABLED=0 or for " + runtime.GOOS +
	", and Go loads .so plugins only with cgo on linux, darwin and freebsd: rebuild the host with CGO_ENABLED=1, or compile the plugin in with opa.Register"

// openSO always fails here; see soUnsupportedReason.
func openSO(string) (plugin.Symbol, error) {
	return nil, ErrUnsupported
}
