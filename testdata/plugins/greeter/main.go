// Package main is the "greeter" fixture plugin: it defines the required hook
// "fullname" and serves a route that calls it.
package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

// FullnameFunc is the type of the "fullname" hook.
type FullnameFunc = func(first, sur string) string

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	HookDefinitions: []opa.HookDefinition{{Name: "fullname", Required: true, Func: FullnameFunc(nil)}},
	Router:          router(),
}

func router() chi.Router {
	r := opa.GetRouter()
	r.Get("/get-fullname/{first}/{sur}", func(w http.ResponseWriter, req *http.Request) {
		fullname, err := opa.HookFunc[FullnameFunc]("fullname")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("Hello " + fullname(chi.URLParam(req, "first"), chi.URLParam(req, "sur"))))
	})
	return r
}

func main() {}
