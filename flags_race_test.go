//go:build race

package opa_test

func init() { raceEnabled = true }
