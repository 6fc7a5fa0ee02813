// Package main is the "wrongtype" fixture plugin: its Plugin has the wrong type.
package main

// Plugin is a string, not an opa.Plugin.
var Plugin = "not a plugin"

func main() {}
