package opa_test

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/opa-stack/opa-go"
)

// benchAddFn is the type of the "add" hook: the cheapest hook there is, so
// that what opa adds to a call is not hidden behind the hook's own work.
type benchAddFn func(a, b int) int

// benchAdd is the "add" hook. It is not inlined, as a hook in a .so file
// cannot be: the direct call is a real call.
//
//go:noinline
func benchAdd(a, b int) int { return a + b }

// benchNameFn is the type of the README's "fullname" hook.
type benchNameFn func(first, sur string) string

//go:noinline
func benchName(first, sur string) string { return "Hello " + first + " " + sur }

var (
	benchSinkInt int
	benchSinkStr string
	benchSinkAny any
)

// benchHookManager starts a Manager with the "add" and "fullname" hooks
// (definitions in one compiled-in plugin, implementations in another, as
// with .so plugins: plugin.Open cannot run in this test binary, and a hook
// from a .so is a func value like these) and makes it the default for the
// package-level functions.
func benchHookManager(b *testing.B) *opa.Manager {
	b.Helper()
	defs := opa.Plugin{HookDefinitions: []opa.HookDefinition{
		{Name: "add", Func: benchAddFn(nil)},
		{Name: "fullname", Func: benchNameFn(nil)},
	}}
	impl := opa.Plugin{Hooks: []opa.Hook{{Name: "add", Func: benchAdd}, {Name: "fullname", Func: benchName}}}
	m, err := opa.New(opa.WithConfig(opa.Config{DefaultPluginPath: b.TempDir()}), opa.WithLogger(benchQuietLog()),
		opa.WithPlugin("defs", defs), opa.WithPlugin("impl", impl))
	if err != nil {
		b.Fatal(err)
	}
	if err := m.StartupSimple(b.Context()); err != nil {
		b.Fatal(err)
	}
	opa.SetDefault(m)
	b.Cleanup(func() { opa.SetDefault(nil) })
	return m
}

// reflectCall is CallHook written by hand with reflect: the same input (the
// args as []any) and the same output (the results as []any), without
// opa's lookup, argument checks and panic recovery.
func reflectCall(fn reflect.Value, args ...any) []any {
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		in[i] = reflect.ValueOf(a)
	}
	out := fn.Call(in)
	res := make([]any, len(out))
	for i, v := range out {
		res[i] = v.Interface()
	}
	return res
}

// The sides of BenchmarkHookCall and BenchmarkHookParallel. Each keeps
// what its calls return in a local and stores it once, at the end: a store
// to a shared variable on every call would bounce its cache line between
// the cores when goroutines run them in parallel.

// The sides of the "add" comparison take a few ns a call, so where the
// compiler happens to place a loop in memory moves them by up to 15%: each
// side has four copies of its loop, taken in rotation, one per turn, to
// average that out.

func addDirect(n int) {
	s := 0
	for i := range n {
		s += benchAdd(i, 1)
	}
	benchSinkInt = s
}

func addHookFunc(n int) {
	s := 0
	for i := range n {
		f, err := opa.HookFunc[benchAddFn]("add")
		if err != nil {
			panic(err)
		}
		s += f(i, 1)
	}
	benchSinkInt = s
}

var addDirectCopies = [...]func(n int){
	addDirect,
	func(n int) {
		s := 0
		for i := range n {
			s += benchAdd(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			s += benchAdd(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			s += benchAdd(i, 1)
		}
		benchSinkInt = s
	},
}

var addHookFuncCopies = [...]func(n int){
	addHookFunc,
	func(n int) {
		s := 0
		for i := range n {
			f, err := opa.HookFunc[benchAddFn]("add")
			if err != nil {
				panic(err)
			}
			s += f(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			f, err := opa.HookFunc[benchAddFn]("add")
			if err != nil {
				panic(err)
			}
			s += f(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			f, err := opa.HookFunc[benchAddFn]("add")
			if err != nil {
				panic(err)
			}
			s += f(i, 1)
		}
		benchSinkInt = s
	},
}

// benchAddRef is the typed handle on "add", kept in a package var as a
// host keeps it.
var benchAddRef = opa.HookRef[benchAddFn]("add")

func addHandle(n int) {
	s := 0
	for i := range n {
		f, err := benchAddRef.Func()
		if err != nil {
			panic(err)
		}
		s += f(i, 1)
	}
	benchSinkInt = s
}

var addHandleCopies = [...]func(n int){
	addHandle,
	func(n int) {
		s := 0
		for i := range n {
			f, err := benchAddRef.Func()
			if err != nil {
				panic(err)
			}
			s += f(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			f, err := benchAddRef.Func()
			if err != nil {
				panic(err)
			}
			s += f(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			f, err := benchAddRef.Func()
			if err != nil {
				panic(err)
			}
			s += f(i, 1)
		}
		benchSinkInt = s
	},
}

// benchReturned is the func HookFunc returned for "add".
var benchReturned benchAddFn

var addReturnedCopies = [...]func(n int){
	func(n int) {
		s := 0
		for i := range n {
			s += benchReturned(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			s += benchReturned(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			s += benchReturned(i, 1)
		}
		benchSinkInt = s
	},
	func(n int) {
		s := 0
		for i := range n {
			s += benchReturned(i, 1)
		}
		benchSinkInt = s
	},
}

// rotate returns a side's run func that takes the copies in turn.
func rotate(copies []func(n int)) func(n int) {
	turn := 0
	return func(n int) {
		copies[turn%len(copies)](n)
		turn++
	}
}

func addCallHook(n int) {
	var last any
	for range n {
		res, err := opa.CallHook("add", 2, 3)
		if err != nil {
			panic(err)
		}
		last = res[0]
	}
	benchSinkAny = last
}

// addCallHookUncounted is addCallHook without CallHook's counting.
func addCallHookUncounted(n int) {
	var last any
	for range n {
		res, err := opa.CallHookUncounted("add", 2, 3)
		if err != nil {
			panic(err)
		}
		last = res[0]
	}
	benchSinkAny = last
}

func nameDirect(n int) {
	var last string
	for range n {
		last = benchName("ada", "lovelace")
	}
	benchSinkStr = last
}

func nameHookFunc(n int) {
	var last string
	for range n {
		f, err := opa.HookFunc[benchNameFn]("fullname")
		if err != nil {
			panic(err)
		}
		last = f("ada", "lovelace")
	}
	benchSinkStr = last
}

func nameCallHook(n int) {
	var last any
	for range n {
		res, err := opa.CallHook("fullname", "ada", "lovelace")
		if err != nil {
			panic(err)
		}
		last = res[0]
	}
	benchSinkAny = last
}

// BenchmarkHookCall compares, interleaved (see runInterleaved), the ways to
// call a hook with a direct call of the same function and with
// reflect.Value.Call written by hand: by name on each call (HookFunc),
// through a package-level handle (HookRef), and the func HookFunc returned.
func BenchmarkHookCall(b *testing.B) {
	benchHookManager(b)
	f, err := opa.HookFunc[benchAddFn]("add")
	if err != nil {
		b.Fatal(err)
	}
	benchReturned = f
	addVal, nameVal := reflect.ValueOf(benchAdd), reflect.ValueOf(benchName)
	addReflect := func(n int) {
		var last any
		for range n {
			last = reflectCall(addVal, 2, 3)[0]
		}
		benchSinkAny = last
	}
	nameReflect := func(n int) {
		var last any
		for range n {
			last = reflectCall(nameVal, "ada", "lovelace")[0]
		}
		benchSinkAny = last
	}
	b.Run("add", func(b *testing.B) {
		runInterleaved(b, "call",
			benchSide{"direct", 100_000, 1000, rotate(addDirectCopies[:])},
			benchSide{"HookFunc", 100_000, 1000, rotate(addHookFuncCopies[:])},
			benchSide{"handle", 100_000, 1000, rotate(addHandleCopies[:])},
			benchSide{"returned", 100_000, 1000, rotate(addReturnedCopies[:])})
	})
	b.Run("add-CallHook", func(b *testing.B) {
		runInterleaved(b, "call",
			benchSide{"CallHook", 2000, 1000, addCallHook},
			benchSide{"reflect", 2000, 1000, addReflect})
	})
	b.Run("add-counting", func(b *testing.B) {
		runInterleaved(b, "call",
			benchSide{"counted", 2000, 1000, addCallHook},
			benchSide{"uncounted", 2000, 1000, addCallHookUncounted})
	})
	b.Run("fullname", func(b *testing.B) {
		runInterleaved(b, "call",
			benchSide{"direct", 10_000, 1000, nameDirect},
			benchSide{"HookFunc", 10_000, 1000, nameHookFunc})
	})
	b.Run("fullname-CallHook", func(b *testing.B) {
		runInterleaved(b, "call",
			benchSide{"CallHook", 2000, 1000, nameCallHook},
			benchSide{"reflect", 2000, 1000, nameReflect})
	})
}

// parallelBatch is the number of calls one op of BenchmarkHookParallel
// makes, so that the loop around them (b.N, or testing.PB's Next) costs the
// same, next to nothing, on both sides.
const parallelBatch = 100

// BenchmarkHookParallel calls CallHook and HookFunc from 1 goroutine and
// from 64 at once (b.RunParallel with SetParallelism), parallelBatch calls
// per op. Per call, it reports ns/call, the wall time over all goroutines
// (the inverse of throughput: a lock on the hot path shows as 64 goroutines
// doing worse per call than one) and cpu-ns/call, the CPU time.
func BenchmarkHookParallel(b *testing.B) {
	benchHookManager(b)
	var cases []benchCase
	for _, c := range []struct {
		name string
		call func(n int)
	}{{"CallHook", addCallHook}, {"HookFunc", addHookFunc}} {
		cases = append(cases,
			benchCase{c.name + "/goroutines=1", func(b *testing.B) {
				for range b.N {
					c.call(parallelBatch)
				}
			}},
			benchCase{c.name + "/goroutines=64", func(b *testing.B) {
				b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c.call(parallelBatch)
					}
				})
			}})
	}
	runCases(b, parallelBatch, "call", cases...)
}
