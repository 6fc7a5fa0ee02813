// Package main is a test plugin whose init panics: the process that opens
// it crashes (plugin.Open cannot recover a panic in a plugin's init).
package main

import "github.com/opa-stack/opa-go"

// Plugin is never reached: init panics first.
var Plugin = opa.Plugin{}

func init() { panic("crashy: init fails on purpose") }

func main() {}
