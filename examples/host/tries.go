package main

import (
	"fmt"
	"io"

	"github.com/opa-stack/opa-go"
)

// tries are the example requests printed at startup, each shown only when
// a loaded plugin serves its route.
var tries = []struct{ method, pattern, curl string }{
	{"GET", "/hello", "curl %s/hello"},
	{"GET", "/get-fullname/{first}/{sur}", "curl %s/get-fullname/ada/lovelace"},
	{"POST", "/notes", "curl -d 'buy milk' %s/notes"},
	{"GET", "/notes", "curl %s/notes"},
	{"GET", "/counter", "curl '%s/counter?key=visits'"},
}

// adminReady starts the line that says where the operator's views are;
// it comes before the "listening on" line.
const adminReady = "opa example host operator views (private) on "

// printTries prints where the host listens, public and private (admin, ""
// if not served), and the requests to try.
func printTries(w io.Writer, base, admin string, withUI bool, rep opa.Report) {
	served := map[string]bool{}
	for _, rt := range rep.Routes {
		served[rt.Method+" "+rt.Pattern] = true
	}
	if admin != "" {
		fmt.Fprintf(w, "%s%s\n  report:   %s/opa/report\n  metrics:  %s/metrics\n", adminReady, admin, admin, admin)
		if withUI {
			fmt.Fprintf(w, "  River UI: %s%s/\n", admin, riverUIPath)
		}
	}
	fmt.Fprintf(w, "opa example host listening on %s\ntry:\n", base)
	for _, t := range tries {
		if served[t.method+" "+t.pattern] {
			fmt.Fprintf(w, "  "+t.curl+"\n", base)
		}
	}
	if admin != "" {
		fmt.Fprintf(w, "  curl %s/opa/report\n", admin)
	}
}
