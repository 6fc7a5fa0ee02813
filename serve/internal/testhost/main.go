// Command testhost is the smallest opa host that reloads with package
// serve, for serve's tests and benchmark: it loads the plugins of
// OPA_PLUGIN_PATHS, serves them, GET /pid and its report at GET
// /opa/report, and prints
//
//	ready http://ADDR pid=PID
//
// once it serves, and
//
//	opa shutdown pid=PID err=ERR
//	exited pid=PID
//
// once it has drained and shut down. GET /slow?release=FILE prints
// "slow started pid=PID" and answers "slow done" once FILE exists: a
// request in flight for as long as a test needs. Its children (reloads)
// print to the same stdout.
//
//	testhost -addr 127.0.0.1:0 -pidfile /tmp/testhost.pid -ready-timeout 1m [-on-reload-delay 300ms]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/serve"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	pidFile := flag.String("pidfile", "", "PID file")
	readyTimeout := flag.Duration("ready-timeout", 0, "serve.Config.ReadyTimeout (0: its default)")
	onReloadDelay := flag.Duration("on-reload-delay", 0, "how long OnReload takes (a slow hook, after the outcome is written)")
	flag.Parse()
	if f := os.Getenv("OPASERVE_REASON_FILE"); f != "" { // started by a reload
		// Who else may write where this process says why it failed: the
		// tests want the parent's own directory (serve.New unsets the
		// variable, so this is read first).
		if st, err := os.Stat(filepath.Dir(f)); err == nil {
			fmt.Printf("reason dir mode=%v pid=%d\n", st.Mode().Perm(), os.Getpid())
		}
	}
	proc, err := serve.New(serve.Config{PIDFile: *pidFile, ReadyTimeout: *readyTimeout, OnReload: func(outcome string, _ error) {
		fmt.Printf("reload outcome=%s pid=%d\n", outcome, os.Getpid())
		time.Sleep(*onReloadDelay)
	}})
	if err != nil {
		slog.Error("testhost", "error", err)
		os.Exit(1)
	}
	if err := run(proc, *addr); err != nil {
		proc.Fail(err)
		slog.Error("testhost stopped", "pid", os.Getpid(), "error", err)
		os.Exit(1)
	}
}

func run(proc *serve.Process, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := opa.LoadConfig(nil)
	if err != nil {
		return err
	}
	r := chi.NewRouter()
	r.Get("/pid", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strconv.Itoa(os.Getpid())))
	})
	r.Get("/slow", slow)
	if err := opa.Startup(r, opa.WithConfig(cfg)); err != nil {
		return err
	}
	r.Get("/opa/report", opa.GetManager().ReportHandler())
	ln, err := proc.Listen("tcp", addr)
	if err != nil {
		return errors.Join(err, opa.Shutdown(context.Background()))
	}
	if err := proc.Ready(); err != nil {
		return errors.Join(err, opa.Shutdown(context.Background()))
	}
	fmt.Printf("ready http://%s pid=%d\n", ln.Addr(), os.Getpid())
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	err = proc.Serve(ctx, srv, ln, 10*time.Second)
	serr := opa.Shutdown(context.Background())
	fmt.Printf("opa shutdown pid=%d err=%v\n", os.Getpid(), serr)
	fmt.Printf("exited pid=%d\n", os.Getpid())
	return errors.Join(err, serr)
}

// slow answers once the file its release parameter names exists.
func slow(w http.ResponseWriter, r *http.Request) {
	fmt.Printf("slow started pid=%d\n", os.Getpid())
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(r.URL.Query().Get("release")); err == nil {
			_, _ = w.Write([]byte("slow done"))
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}
