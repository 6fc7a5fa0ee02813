// Package main is the "nosym" fixture plugin: it forgot to export Plugin.
package main

import "github.com/opa-stack/opa-go"

// Other is not the symbol the host looks up.
var Other = opa.Plugin{}

func main() {}
