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

// printTries prints where the host listens and the requests to try;
// adminBase is the admin listener's URL, "" for none.
func printTries(w io.Writer, base, adminBase string, rep opa.Report) {
	served := map[string]bool{}
	for _, rt := range rep.Routes {
		served[rt.Method+" "+rt.Pattern] = true
	}
	fmt.Fprintf(w, "opa example host listening on %s\ntry:\n", base)
	for _, t := range tries {
		if served[t.method+" "+t.pattern] {
			fmt.Fprintf(w, "  "+t.curl+"\n", base)
		}
	}
	fmt.Fprintf(w, "  curl %s/opa/report\n", base)
	if adminBase != "" {
		fmt.Fprintf(w, "admin listener on %s\n  curl %s/metrics\n", adminBase, adminBase)
	}
}
