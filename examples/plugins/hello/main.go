// Package main is the "hello" example plugin: the smallest useful plugin, a
// single file serving one route. Build it with
//
//	go build -buildmode=plugin -o build/plugins/hello.so ./plugins/hello
//
// and put hello-meta.json beside hello.so to give it tags.
package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

// Plugin is what the host looks up: every plugin exports one.
var Plugin = opa.Plugin{Router: router()}

func router() chi.Router {
	r := opa.GetRouter()
	// Routes join the host router at their own paths: this is GET /hello.
	r.Get("/hello", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Hello from a plugin\n"))
	})
	return r
}

// main is never run: a plugin needs it only so that `go build ./...` and
// `go vet ./...` accept the package.
func main() {}
