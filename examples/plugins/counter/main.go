// Package main is the "counter" example plugin: GET /counter?key=K counts
// calls per key in Redis and answers "Counter is N".
//
// It uses the optional component "redis" (see plugins/redisdriver and
// settings/opa.yaml), which the settings load with LOAD: auto: when no Redis
// is running the host starts all the same, and this route answers 503 with
// a message saying why, instead of failing.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
	"github.com/redis/go-redis/v9"
)

// component is the name of the Redis component in OPTIONAL_COMPONENTS.
const component = "redis"

// Plugin is what the host looks up.
var Plugin = opa.Plugin{Router: router()}

func router() chi.Router {
	r := opa.GetRouter()
	r.Get("/counter", count)
	return r
}

func count(w http.ResponseWriter, req *http.Request) {
	key := req.URL.Query().Get("key")
	if key == "" {
		http.Error(w, "give a key: /counter?key=K", http.StatusBadRequest)
		return
	}
	// The component is looked up on each request: it is cheap, and the
	// handler then also works under a host that restarted opa.
	rdb, err := opa.Instance[*redis.Client](component)
	if errors.Is(err, opa.ErrUnavailable) {
		slog.Warn("counter: no Redis", "error", err)
		http.Error(w, "the counter needs Redis, and the redis component is unavailable (is Redis running? see /opa/report)", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		slog.Error("counter: no Redis client", "error", err)
		http.Error(w, "the counter has no Redis client (see /opa/report)", http.StatusInternalServerError)
		return
	}
	n, err := rdb.Incr(req.Context(), "opa-examples:counter:"+key).Result()
	if err != nil {
		slog.Error("counter: INCR failed", "key", key, "error", err)
		http.Error(w, "Redis did not answer", http.StatusBadGateway)
		return
	}
	fmt.Fprintf(w, "Counter is %d\n", n)
}

func main() {}
