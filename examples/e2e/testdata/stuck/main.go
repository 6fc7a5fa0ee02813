// Package main is a test plugin whose init prints "stuck: init blocks" and
// does not return for an hour, as one that waits on a server that never
// answers: a host that opens it is stuck in Startup.
package main

import (
	"fmt"
	"time"

	"github.com/opa-stack/opa-go"
)

// Plugin is reached only after an hour.
var Plugin = opa.Plugin{}

func init() {
	fmt.Println("stuck: init blocks")
	time.Sleep(time.Hour)
}

func main() {}
