// Package main is the "kv" fixture plugin: a driver for an in-memory store,
// and a route that uses the component named "store".
package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

// Store is the instance handlers use.
type Store struct {
	mu     sync.Mutex
	prefix string
	n      int
}

// Next counts calls.
func (s *Store) Next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("%s%d", s.prefix, s.n)
}

type component struct{ store *Store }

func (c *component) Connect(context.Context) error {
	if c.store.prefix == "absent" {
		return fmt.Errorf("kv: nobody home: %w", opa.ErrUnavailable)
	}
	return nil
}

func (c *component) Instance() any { return c.store }

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Drivers: []opa.Driver{{Name: "KV", New: func(opts opa.Options) (opa.Component, error) {
		prefix, _ := opts["prefix"].(string)
		return &component{store: &Store{prefix: prefix}}, nil
	}}},
	Router: router(),
}

func router() chi.Router {
	r := opa.GetRouter()
	r.Get("/kv", func(w http.ResponseWriter, _ *http.Request) {
		s, err := opa.Instance[*Store]("store")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(s.Next()))
	})
	return r
}

func main() {}
