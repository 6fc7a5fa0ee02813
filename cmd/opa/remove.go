package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opa-stack/opa-go"
)

var removeCommand = &command{
	name:    "remove",
	summary: "remove installed plugins from a plugin directory, and reload the host",
	usage:   "remove [--host BINARY] [--path DIR] [--pidfile FILE] [--timeout D] [--report URL] NAME...",
	help: `Removes the plugins NAME from the plugin directory DIR: NAME.so and
NAME-meta.json, or the directory plugin NAME/. Each is renamed to a hidden
name first, so a running host never sees a partial directory.

Which hooks a plugin defines and provides is known only once it is loaded:
with --report (the running host's report as JSON, e.g.
http://127.0.0.1:8081/opa/report), opa first says which plugins that still
load would lose a hook they require, and refuses. Without it, the reload
is what finds out: the new process fails, the old one serves on.

When DIR holds an opa.lock, the plugins removed are taken out of it, in the
same step.

With --pidfile, as for opa add, the host is reloaded and opa waits for the
outcome; when the host does not take the new set, the plugins are put back
and opa exits 1.

--path may be left out when the host's settings name exactly one plugin
path.

Exit status: 0 removed (and reloaded), 1 refused, failed, or the host did
not take the new set, 2 a usage error (a NAME that is not installed).`,
	examples: `  opa remove --path /data/opa/plugins --pidfile /run/myhost.pid myplugin
  opa remove --path ./build/plugins --report http://127.0.0.1:8081/opa/report hello`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		var o deployOptions
		o.define(fs)
		report := fs.String("report", "", "read the running host's report from `URL` to find the hooks the rest require")
		return func(c *cli, names []string) int { return runRemove(c, o, *report, names) }
	},
}

func runRemove(c *cli, o deployOptions, reportURL string, names []string) int {
	if len(names) == 0 {
		return c.usageErr("no NAME given: name the plugins to remove")
	}
	dir, _, err := o.pluginDir()
	if err != nil {
		return c.usageErr("%v", err)
	}
	if o.pidFile != "" {
		if _, err := readPID(o.pidFile); err != nil {
			return c.usageErr("%v", err)
		}
	}
	var files []string // what each name is in dir
	for _, name := range names {
		found := ""
		for _, f := range []string{filepath.Join(dir, name+".so"), filepath.Join(dir, name)} {
			if st, err := os.Stat(f); err == nil && (st.IsDir() == (f == filepath.Join(dir, name))) {
				found = f
				break
			}
		}
		if found == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
			return c.usageErr("%s: no plugin %s.so or %s/ in %s", name, name, name, dir)
		}
		files = append(files, found)
	}
	if reportURL != "" {
		lost, err := lostHooks(reportURL, names)
		if err != nil {
			c.errorf("--report %s: %v", reportURL, err)
			return exitFailed
		}
		if len(lost) > 0 {
			c.errorf("removing %s would leave plugins that still load without a hook they require:\n    %s\nremove those plugins too, or add one that provides the hook", strings.Join(names, ", "), strings.Join(lost, "\n    "))
			return exitFailed
		}
	}
	var undos []undo
	for i, f := range files {
		related := []string{f}
		if !strings.HasSuffix(f, ".so") {
			related = []string{f} // a directory plugin goes as a whole
		} else if meta := filepath.Join(dir, names[i]+"-meta.json"); exists(meta) {
			related = append(related, meta)
		}
		for _, r := range related {
			u := undo{file: r, backup: filepath.Join(dir, "."+filepath.Base(r)+".prev")}
			os.RemoveAll(u.backup)
			if err := os.Rename(r, u.backup); err != nil {
				c.errorf("%v", err)
				if rerr := restore(undos); rerr != nil {
					c.errorf("could not put %s back as it was: %v", dir, rerr)
				}
				return exitFailed
			}
			undos = append(undos, u)
		}
		fmt.Fprintf(c.stdout, "%s: removed\n", f)
	}
	if err := syncDir(dir); err != nil {
		c.errorf("%v", err)
	}
	u, locked, err := updateLock(dir, false, nil)
	if err != nil {
		c.errorf("%v", err)
		if rerr := restore(undos); rerr != nil {
			c.errorf("could not put %s back as it was: %v", dir, rerr)
		}
		return exitFailed
	}
	if locked {
		undos = append(undos, u)
		fmt.Fprintf(c.stdout, "%s: updated\n", filepath.Join(dir, opa.LockFile))
	}
	code := finishDeploy(c, o, dir, undos)
	if code == exitOK {
		for _, u := range undos {
			os.RemoveAll(u.backup) // forget does not remove directories
		}
	}
	return code
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return !errors.Is(err, fs.ErrNotExist)
}

// lostHooks reads a running host's report and returns, one line each, the
// required hooks that only the plugins removed provide, with the plugins
// (or the host) that define them.
func lostHooks(url string, removed []string) ([]string, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s (is it the host's /opa/report?)", resp.Status)
	}
	var rep opa.Report
	if err := decodeReport(resp.Body, &rep, maxReportSize); err != nil {
		return nil, err
	}
	var out []string
	for _, h := range rep.Hooks {
		if !h.Required || slices.Contains(removed, h.DefinedBy) || len(h.Candidates) == 0 {
			continue
		}
		left := slices.ContainsFunc(h.Candidates, func(c opa.HookCandidate) bool { return !slices.Contains(removed, c.Plugin) })
		if !left {
			out = append(out, fmt.Sprintf("hook %s, required by %s, is provided only by %s", h.Name, h.DefinedBy, h.Plugin))
		}
	}
	return out, nil
}
