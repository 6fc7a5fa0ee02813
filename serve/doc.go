// Package serve replaces a running opa host or worker by a new process of
// the same binary with no downtime: a graceful reload, built on
// cloudflare/tableflip.
//
// Go cannot unload a plugin, so a new plugin set needs a new process. On
// SIGHUP (or a call to [Process.Reload]) the process starts its own binary
// again, by the same path (the file may have been replaced), with the same
// arguments and environment. The new process runs opa.Startup with the
// plugin folders and settings it finds, and only when that succeeded does
// it call [Process.Ready] and take over the listening socket it inherited.
// The old process then stops accepting, drains its requests
// (http.Server.Shutdown), calls opa.Shutdown and exits. When the new process
// fails (a refused plugin, a missing required hook, a LOAD: yes component
// that is down, a crash during init), the old one never stops serving: both
// log why, and the trigger (Reload's error, or [Trigger]'s) says so. One
// reload runs at a time. A PID file names the process that serves, for
// systemctl reload.
//
// # Signals and the drain
//
// SIGHUP stays caught for the life of the process. A process that drains,
// after a handover or on SIGTERM, logs a SIGHUP and ignores it ("already
// handed over to PID N", "this process is shutting down"), and leaves
// PIDFile+".reload" as it was: a systemctl reload or a logrotate HUP never
// kills a draining process. The drain loses no request: the old process
// stops accepting (the new one accepts from the same socket), answers every
// request from then on with "Connection: close", and closes a keep-alive
// connection only once it has been idle for a second, so that a client in
// a request loop is never closed on as it sends ([Process.Serve]).
//
// # Usage
//
// An HTTP host:
//
//	func main() {
//		proc, err := serve.New(serve.Config{PIDFile: "/run/myhost.pid"})
//		if err != nil {
//			log.Fatal(err)
//		}
//		if err := run(proc); err != nil {
//			proc.Fail(err) // a new process tells the old one why it failed
//			log.Fatal(err)
//		}
//	}
//
//	func run(proc *serve.Process) error {
//		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
//		defer stop()
//		r := chi.NewRouter()
//		if err := opa.Startup(r); err != nil {
//			return err
//		}
//		ln, err := proc.Listen("tcp", ":8080") // inherited on a reload
//		if err != nil {
//			return errors.Join(err, opa.Shutdown(context.Background()))
//		}
//		if err := proc.Ready(); err != nil { // the old process starts to drain
//			return errors.Join(err, opa.Shutdown(context.Background()))
//		}
//		err = proc.Serve(ctx, &http.Server{Handler: r}, ln, 10*time.Second)
//		return errors.Join(err, opa.Shutdown(context.Background()))
//	}
//
// A worker does the same without Listen and Serve: it calls Ready once it
// can work, and stops fetching jobs when [Process.Exit] is closed.
//
// Reloads work where tableflip does: Linux, macOS and the BSDs, which is
// where .so plugins work too.
package serve
