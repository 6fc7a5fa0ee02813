// Package main is a test plugin: GET /hello answers its version, set at
// build time with -ldflags=-X=main.version=V.
package main

import (
	"net/http"

	"github.com/opa-stack/opa-go"
)

var version = "0"

// Plugin serves GET /hello.
var Plugin = func() opa.Plugin {
	r := opa.GetRouter()
	r.Get("/hello", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("hello v" + version))
	})
	return opa.Plugin{Router: r}
}()

func main() {}
