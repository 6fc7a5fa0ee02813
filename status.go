package opa

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// StatusTimeout bounds each component's Status when the report is served;
// a shorter COMPONENT_TIMEOUT bounds it instead. A report page must come
// back quickly, also when a service hangs.
const StatusTimeout = 2 * time.Second

// ReportWithStatus returns the Report with the Status of every connected
// component that is a StatusReporter, asked now: all at once, each under a
// deadline of StatusTimeout (or COMPONENT_TIMEOUT if shorter) within ctx. A
// Status that fails, panics or misses its deadline leaves StatusError in
// its component's report, and the rest of the report as it is. Before
// Startup has connected the components, and after Shutdown, it is Report.
// Report itself never calls a component.
func (m *Manager) ReportWithStatus(ctx context.Context) Report {
	rep := m.Report()
	st := m.st.Load()
	if st == nil || st.serving != servingAll || len(rep.Components) == 0 {
		return rep
	}
	// The stored report is shared: fill a copy of its components.
	rep.Components = slices.Clone(rep.Components)
	timeout, limit := StatusTimeout, "opa.StatusTimeout"
	if m.cfg.componentTimeout() < timeout {
		timeout, limit = m.cfg.componentTimeout(), "COMPONENT_TIMEOUT"
	}
	var wg sync.WaitGroup
	for i := range rep.Components {
		cr := &rep.Components[i]
		c := st.components[strings.ToLower(cr.Name)]
		if cr.State != StateConnected || c == nil {
			continue
		}
		sr, ok := c.comp.(StatusReporter)
		if !ok {
			continue
		}
		wg.Go(func() { cr.Status, cr.StatusError = m.status(ctx, timeout, limit, c, sr) })
	}
	wg.Wait()
	return rep
}

// status asks one component for its status, turned into plain JSON values
// and redacted, or returns why it could not.
func (m *Manager) status(ctx context.Context, timeout time.Duration, limit string, c *component, sr StatusReporter) (any, string) {
	if !c.asking.CompareAndSwap(false, true) {
		return nil, fmt.Sprintf("opa: %s: status: the previous call has not returned yet (it ignores its context); not asked again until it does", c.label())
	}
	var v any
	err := guardBy(ctx, timeout, limit, "status", func(ctx context.Context) error {
		defer c.asking.Store(false)
		s, err := sr.Status(ctx)
		if err != nil {
			return err
		}
		plain, err := plainJSON(s)
		if err != nil {
			return fmt.Errorf("its value (%T) does not marshal to JSON: %w", s, err)
		}
		v = plain // read only once guard has seen fn return
		return nil
	})
	if err != nil {
		err = m.red.wrap(fmt.Errorf("opa: %s: %w", c.label(), m.red.wrap(err)))
		m.log.Warn("opa: component status failed", "component", c.name, "error", err)
		return nil, err.Error()
	}
	return m.red.scrubValue(redactValue(v, 0)), ""
}

// plainJSON turns v into what decoding its JSON gives: map[string]any,
// []any, string, json.Number, bool or nil, so that the report can redact
// and render any value the same way and numbers keep their digits.
func plainJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

// scrubValue replaces the secrets in every string of a plain JSON value
// (see plainJSON), in map keys too.
func (r *redactor) scrubValue(v any) any {
	switch x := v.(type) {
	case string:
		return r.scrub(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.scrub(k)] = r.scrubValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.scrubValue(e)
		}
		return out
	}
	return v
}
