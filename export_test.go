package opa

// CallHookUncounted is the package-level CallHook without its counting:
// the baseline of the "CallHook with counting" row of BENCHMARKS.md
// (BenchmarkHookCall/add-counting).
func CallHookUncounted(name string, args ...any) ([]any, error) {
	if t := defaultHooks.Load(); t != nil {
		if e := t.find(name); e != nil {
			return e.invoke(args)
		}
	}
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
