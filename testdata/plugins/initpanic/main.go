// Package main is the "initpanic" fixture plugin: its init panics, so a host
// that opens it can tell.
package main

import "github.com/opa-stack/opa-go"

// Plugin is what the host looks up.
var Plugin = opa.Plugin{}

func init() { panic("initpanic: init ran") }

func main() {}
