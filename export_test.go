package opa

// CallHookUncounted is the package-level CallHook without its counting:
// the baseline of the "CallHook with counting" row of BENCHMARKS.md
// (BenchmarkHookCall/add-counting).
func CallHookUncounted(name string, args ...any) ([]any, error) {
	m, err := defaultOrErr()
	if err != nil {
		return nil, err
	}
	t, err := m.hooks()
	if err != nil {
		return nil, err
	}
	e, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	return e.invoke(args)
}
