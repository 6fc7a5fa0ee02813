//go:build cgo

package opa_test

func init() { cgoEnabled = true }
