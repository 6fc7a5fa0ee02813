//go:build race

package preflight

func init() { preflightRace = true }
