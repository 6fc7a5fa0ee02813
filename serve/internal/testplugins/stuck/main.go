// Package main is a test plugin whose init does not return for an hour, as
// one that waits on a server that never answers: a process that opens it
// never becomes ready.
package main

import (
	"time"

	"github.com/opa-stack/opa-go"
)

// Plugin is reached only after an hour.
var Plugin = opa.Plugin{}

func init() { time.Sleep(time.Hour) }

func main() {}
