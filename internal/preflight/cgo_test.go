//go:build cgo

package preflight

func init() { cgoEnabled = true }
