//go:build cgo

package serve_test

func init() { cgoEnabled = true }
