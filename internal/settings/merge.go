package settings

// mergeMarker is dynaconf's merge marker: a list holding it as an element,
// or a map holding it as a key set to true, is merged into what lower layers
// set instead of replacing it.
const mergeMarker = "dynaconf_merge"

// Settings is the state of the layering: the merged settings (normalized, see
// normalizeValue; every map and list in it is owned by it) and, per key
// path, the layer that last set it, so errors can name their source.
type Settings struct {
	root map[string]any
	src  srcTree
	// sections are the top-level names of each settings file read, by
	// path, lower-case (see SectionWarnings).
	sections map[string][]string
}

func newSettings() *Settings {
	return &Settings{root: map[string]any{}}
}

// set applies one value of a layer at a key path. Maps on the way are
// merged into (a value that is not a map is replaced by one), so siblings
// from lower layers stay. The value itself merges or replaces by the rules
// of mergeValue; force makes it merge as if it held the marker.
func (l *Settings) set(path []string, val any, source string, force bool) {
	if len(path) == 0 {
		return
	}
	parent := l.root
	node := &l.src
	for _, k := range path[:len(path)-1] {
		node = node.child(k)
		next, ok := parent[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			parent[k] = next
			node.reset(source)
		}
		parent = next
	}
	last := path[len(path)-1]
	parent[last] = l.mergeValue(parent[last], val, node.child(last), source, force)
}

// mergeValue merges upper, set by source, over lower and returns the
// result; node is the source record of this key path.
//
//   - A map holding dynaconf_merge: true (or any map when force) is merged
//     into a lower map key by key, all the way down, as dynaconf's
//     object_merge does: below the marker every map merges key by key and
//     every list is appended, whether or not it holds a marker of its own;
//     scalars replace. The marker is dropped.
//   - A list holding the element "dynaconf_merge" (or any list when force)
//     is appended to the lower list; the marker is dropped. A lower scalar
//     counts as a one-element list, and an empty string as an empty one.
//   - Anything else replaces lower. Markers inside a replacing value are
//     dropped too, with nothing below them to merge with.
func (l *Settings) mergeValue(lower, upper any, node *srcTree, source string, force bool) any {
	switch u := upper.(type) {
	case map[string]any:
		merge := force
		if m, ok := u[mergeMarker]; ok {
			merge = merge || m == true
		}
		low, isMap := lower.(map[string]any)
		if !merge || !isMap {
			low = map[string]any{}
			node.reset(source)
		}
		for k, v := range u {
			if k == mergeMarker {
				continue
			}
			low[k] = l.mergeValue(low[k], v, node.child(k), source, merge && isMap)
		}
		return low
	case []any:
		items := make([]any, 0, len(u))
		merge := force
		for _, e := range u {
			if e == mergeMarker {
				merge = true
				continue
			}
			items = append(items, e)
		}
		node.reset(source)
		if !merge {
			return items
		}
		return append(asList(lower), items...)
	default:
		node.reset(source)
		return upper
	}
}

// asList is a lower value as the start of an appended list: a copy of a
// list, nothing for nil, "" or a map, else a one-element list.
func asList(v any) []any {
	switch x := v.(type) {
	case []any:
		return append([]any(nil), x...)
	case nil, map[string]any:
		return nil
	case string:
		if x == "" {
			return nil
		}
	}
	return []any{v}
}

// Get returns the merged value at a key path (lower-case keys), or nil.
func (l *Settings) Get(path ...string) any {
	var v any = l.root
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Source names the layer that last set the value at path: the record of the
// path itself or of its nearest ancestor (a value set as a whole carries
// one record for everything below it). It is "viper", a file and section
// ("/data/settings/a.yaml [development]") or a variable ("env OPA_X").
func (l *Settings) Source(path []string) string {
	return l.src.lookup(path)
}

// srcTree records which layer set which key path. A node's src covers its
// whole subtree except where a kid has its own.
type srcTree struct {
	src  string
	kids map[string]*srcTree
}

func (t *srcTree) child(k string) *srcTree {
	if t.kids == nil {
		t.kids = map[string]*srcTree{}
	}
	c := t.kids[k]
	if c == nil {
		c = &srcTree{}
		t.kids[k] = c
	}
	return c
}

// reset records that source replaced the whole value at this node.
func (t *srcTree) reset(source string) {
	t.src = source
	t.kids = nil
}

func (t *srcTree) lookup(path []string) string {
	found := t.src
	for _, k := range path {
		t = t.kids[k]
		if t == nil {
			break
		}
		if t.src != "" {
			found = t.src
		}
	}
	return found
}
