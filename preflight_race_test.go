//go:build race

package opa

func init() { preflightRace = true }
