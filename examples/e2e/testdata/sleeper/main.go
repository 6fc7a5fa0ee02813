// Package main is a test plugin with a slow task, for the worker reload
// test: POST /nap?id=N&ms=M&file=F[&gate=G] queues the task sleeper.nap,
// which sleeps M milliseconds and, given G, waits until the file G exists,
// then appends "N PID" to F.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

type napArgs struct {
	ID   int    `json:"id"`
	MS   int    `json:"ms"`
	File string `json:"file"`
	Gate string `json:"gate,omitempty"`
}

// Plugin serves POST /nap and runs sleeper.nap.
var Plugin = opa.Plugin{Router: router(), Tasks: []opa.Task{opa.NewTask("sleeper.nap", nap)}}

func router() chi.Router {
	r := opa.GetRouter()
	r.Post("/nap", func(w http.ResponseWriter, req *http.Request) {
		id, _ := strconv.Atoi(req.URL.Query().Get("id"))
		ms, _ := strconv.Atoi(req.URL.Query().Get("ms"))
		enqueue, err := opa.HookFunc[func(context.Context, string, any) error]("enqueue")
		if err == nil {
			err = enqueue(req.Context(), "sleeper.nap", napArgs{ID: id, MS: ms, File: req.URL.Query().Get("file"), Gate: req.URL.Query().Get("gate")})
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return r
}

// nap ignores ctx on purpose: a job cut short would be retried, and run
// twice.
func nap(_ context.Context, a napArgs) error {
	time.Sleep(time.Duration(a.MS) * time.Millisecond)
	if a.Gate != "" {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if _, err := os.Stat(a.Gate); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("job %d: the gate %s did not open within 2 minutes", a.ID, a.Gate)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	f, err := os.OpenFile(a.File, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %d\n", a.ID, os.Getpid())
	return errors.Join(err, f.Close())
}

func main() {}
