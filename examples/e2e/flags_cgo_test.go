//go:build cgo

package e2e

func init() { cgoEnabled = true }
