package opa

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The report page: a template, its CSS and its small script, all embedded,
// so the page needs no other request and works offline.
var (
	//go:embed report_page.html
	reportPageHTML string
	//go:embed report_page.css
	reportPageCSS string
	//go:embed report_page.js
	reportPageJS string

	reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
		"splitPath": splitPath,
		"shortHash": shortHash,
	}).Parse(reportPageHTML))

	// reportPageCSP lets the page run its own style and script and nothing
	// else: a value that escaping missed still could not run.
	reportPageCSP = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; img-src data:; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'", cspHash(reportPageCSS), cspHash(reportPageJS))
)

// cspHash is the Content-Security-Policy source of an inline element.
func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// wantsHTML reports whether r asks for the page rather than JSON: the query
// parameter format ("html" or "json") decides if set; otherwise the Accept
// header, where text/html must rank above application/json, so "*/*" and
// no header at all get JSON.
func wantsHTML(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "html":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, fmt.Errorf("opa: report format %q: use format=json or format=html", f)
	}
	accept := strings.Join(r.Header.Values("Accept"), ",")
	return acceptQuality(accept, "text", "html") > acceptQuality(accept, "application", "json"), nil
}

// acceptQuality is the quality an Accept header gives the media type
// typ/sub (RFC 9110, section 12.5.1): that of the most specific range that
// matches it, 0 where none does.
func acceptQuality(accept, typ, sub string) float64 {
	best, q := -1, 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		t, s, _ := strings.Cut(mt, "/")
		var spec int
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		default:
			continue
		}
		if spec <= best {
			continue
		}
		best, q = spec, 1
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			} else {
				q = 0
			}
		}
	}
	return q
}

// writeReportHTML renders the report page. The template is rendered into a
// buffer first, so a failure is a clean 500, not half a page.
func writeReportHTML(w http.ResponseWriter, rep Report) {
	var b bytes.Buffer
	if err := reportPage.Execute(&b, newReportView(rep)); err != nil {
		http.Error(w, "opa: rendering the report page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", reportPageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(b.Bytes())
}

// reportView is what the page template reads: the report, and what the page
// derives from it for display (badges, counts). It adds no other data.
type reportView struct {
	Report
	StateLabel, StateClass string
	Loaded, Skipped        int // Skipped counts the plugins a filter or a shadow left out
	Refused, SetupFailed   int // Refused counts the plugins that failed a step
	PluginRows             []pluginRow
	ComponentRows          []componentRow
	Tasks                  []taskRow
	CSS                    template.CSS
	JS                     template.JS
}

// Missing reports whether the search path dir does not exist.
func (v reportView) Missing(dir string) bool { return slices.Contains(v.MissingPaths, dir) }

// pluginRow is one plugin with its decision as a badge.
type pluginRow struct {
	PluginReport
	Badge, BadgeClass string
	Detail            string // what decided: the filters, the shadowing path, the step
	MetaRows          []metaRow
}

// metaRow is one meta.json field; a string shows without its quotes, any
// other value as compact JSON.
type metaRow struct{ Key, Value string }

// componentRow is one component with its status made readable.
type componentRow struct {
	ComponentReport
	StatusFields []statusField // the keys of a status that is a map, sorted
	StatusText   string        // a status of any other shape, as compact JSON
}

// statusField is one key of a component's status: a value shown as text,
// or a map of maps of numbers (counts by queue and state, say) shown as a
// table.
type statusField struct {
	Key  string // empty: the status itself is the table
	Text string
	Grid *statusGrid
}

// statusGrid is a map of maps of numbers: a row per outer key, a column per
// inner key (sorted), a cell empty where a row has no such key.
type statusGrid struct {
	Cols []string
	Rows []statusGridRow
}

type statusGridRow struct {
	Name  string
	Cells []string
}

// taskRow is one task kind and the plugin that declares it.
type taskRow struct{ Kind, Plugin string }

// filterName finds the filter settings a skip reason names.
var filterName = regexp.MustCompile(`PLUGIN_(?:WHITE|BLACK)LIST_(?:LIST|RE|TAGS)`)

func newReportView(rep Report) reportView {
	v := reportView{Report: rep, CSS: template.CSS(reportPageCSS), JS: template.JS(reportPageJS)}
	switch rep.State {
	case "started":
		v.StateLabel, v.StateClass = "started", "ok"
	case "failed":
		v.StateLabel, v.StateClass = "failed", "bad"
	case "stopped":
		v.StateLabel, v.StateClass = "stopped", "off"
	default:
		v.StateLabel, v.StateClass = "not started", "off"
	}
	for _, p := range rep.Plugins {
		row := pluginRow{PluginReport: p}
		switch {
		case p.Loaded && p.Error != "":
			v.SetupFailed++
			row.Badge, row.BadgeClass, row.Detail = "setup failed", "bad", "loaded, then a setup failed"
		case p.Loaded:
			v.Loaded++
			row.Badge, row.BadgeClass = "loaded", "ok"
		case p.Step != "":
			v.Refused++
			row.Badge, row.BadgeClass, row.Detail = "refused", "bad", "at step "+p.Step
		case strings.HasPrefix(p.Reason, "shadowed by "):
			v.Skipped++
			row.Badge, row.BadgeClass, row.Detail = "shadowed", "off", p.Reason
		default:
			v.Skipped++
			row.Badge, row.BadgeClass = "skipped", "warn"
			var by []string // each filter once: a note names its filter again
			for _, name := range filterName.FindAllString(p.Reason, -1) {
				if !slices.Contains(by, name) {
					by = append(by, name)
				}
			}
			if len(by) > 0 {
				row.Detail = "by " + strings.Join(by, ", ")
			}
		}
		for _, k := range slices.Sorted(maps.Keys(p.Meta)) {
			row.MetaRows = append(row.MetaRows, metaRow{Key: k, Value: metaText(p.Meta[k])})
		}
		for _, kind := range p.Tasks {
			v.Tasks = append(v.Tasks, taskRow{Kind: kind, Plugin: p.Name})
		}
		v.PluginRows = append(v.PluginRows, row)
	}
	for _, c := range rep.Components {
		v.ComponentRows = append(v.ComponentRows, newComponentRow(c))
	}
	return v
}

// newComponentRow lays out a component's status: a map becomes a list of
// its keys, each a table where it is a map of maps of numbers; anything
// else is compact JSON.
func newComponentRow(c ComponentReport) componentRow {
	row := componentRow{ComponentReport: c}
	if c.Status == nil {
		return row
	}
	m, ok := c.Status.(map[string]any)
	if !ok {
		row.StatusText = jsonText(c.Status)
		return row
	}
	if g := newStatusGrid(m); g != nil {
		row.StatusFields = []statusField{{Grid: g}}
		return row
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		f := statusField{Key: k}
		if sub, ok := m[k].(map[string]any); ok {
			f.Grid = newStatusGrid(sub)
		}
		if f.Grid == nil {
			f.Text = jsonText(m[k])
			if s, ok := m[k].(string); ok {
				f.Text = s
			}
		}
		row.StatusFields = append(row.StatusFields, f)
	}
	return row
}

// newStatusGrid returns m as a table if it is a non-empty map of maps of
// numbers, or nil.
func newStatusGrid(m map[string]any) *statusGrid {
	if len(m) == 0 {
		return nil
	}
	cols := map[string]bool{}
	for _, e := range m {
		inner, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		for k, n := range inner {
			if _, ok := n.(json.Number); !ok {
				return nil
			}
			cols[k] = true
		}
	}
	g := &statusGrid{Cols: slices.Sorted(maps.Keys(cols))}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		inner := m[name].(map[string]any)
		r := statusGridRow{Name: name}
		for _, col := range g.Cols {
			cell := ""
			if n, ok := inner[col]; ok {
				cell = n.(json.Number).String()
			}
			r.Cells = append(r.Cells, cell)
		}
		g.Rows = append(g.Rows, r)
	}
	return g
}

// jsonText renders a plain JSON value as compact JSON.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// splitPath cuts a path after each slash, so the page can offer a line
// break there (<wbr>) and not inside a name.
func splitPath(p string) []string {
	return strings.SplitAfter(p, "/")
}

// shortHash is the first 12 digits of a hash, as git shows one; the page
// shows it whole on hover.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// metaText renders a meta.json value as text.
func metaText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return b.String()
	}
	return string(raw)
}
