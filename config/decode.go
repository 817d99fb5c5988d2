package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxSteps bounds the nodes one decode visits, so aliases cannot expand a
// small file into an enormous amount of work.
const maxSteps = 100_000

// result is what decoding one node did to its target.
type result int

const (
	decoded result = iota // the target holds the node's value
	absent                // null: the target is untouched, as if the key were missing
	failed                // a problem was reported; the target is untouched
)

// decoder fills a Config from a yaml.Node tree. Unlike (*yaml.Node).Decode
// it is strict (unknown and duplicate keys), expands ${ENV} in scalars
// before converting them, reports every problem with its line and column,
// and remembers which node set which field so that defaults and validation
// know what the file said.
type decoder struct {
	file   string
	lookup func(string) (string, bool)
	probs  []Problem
	// set maps a pointer to a field or list element to the node that set it.
	set map[any]*yaml.Node
	// bad holds pointers whose node was present but could not be decoded;
	// validation stays quiet about them (the decode problem says it all).
	bad       map[any]bool
	steps     int
	exhausted bool
}

func newDecoder(file string, lookup func(string) (string, bool)) *decoder {
	return &decoder{
		file:   file,
		lookup: lookup,
		set:    map[any]*yaml.Node{},
		bad:    map[any]bool{},
	}
}

// maxProblems bounds the problems reported for one file: past it, more
// lines help no one and cost memory.
const maxProblems = 500

func (d *decoder) addf(n *yaml.Node, format string, args ...any) {
	switch {
	case len(d.probs) < maxProblems:
		d.probs = append(d.probs, problemAt(d.file, n, fmt.Sprintf(format, args...)))
	case len(d.probs) == maxProblems:
		d.probs = append(d.probs, problemAt(d.file, n, fmt.Sprintf("too many problems: stopped after %d", maxProblems)))
		d.exhausted = true
	}
}

// full reports whether no more problems will be recorded.
func (d *decoder) full() bool { return len(d.probs) >= maxProblems }

// problemAt builds a Problem at n's position (1:1 if n is unknown).
func problemAt(file string, n *yaml.Node, msg string) Problem {
	p := Problem{File: file, Line: 1, Col: 1, Msg: msg}
	if n != nil && n.Line > 0 {
		p.Line = n.Line
		if n.Column > 0 {
			p.Col = n.Column
		}
	}
	return p
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 ||
		(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && n.ShortTag() == "!!merge"
}

// value decodes n into v (a settable value); path names it in messages.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) result {
	if !d.step(n) {
		return failed
	}
	if n = resolve(n); n == nil || n.Kind == yaml.AliasNode {
		d.addf(n, "%s: alias cannot be resolved", path)
		return failed
	}
	if isNull(n) {
		return absent
	}
	switch v.Type() {
	case reflect.TypeFor[Duration]():
		s, ok := d.scalar(n, path, "a duration")
		if !ok {
			return failed
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.addf(n, "%s: %v", path, err)
			return failed
		}
		v.SetInt(int64(dur))
		return decoded
	case reflect.TypeFor[StringOrSet]():
		if n.Kind == yaml.ScalarNode {
			s, ok := d.scalar(n, path, "a string")
			if !ok {
				return failed
			}
			v.Set(reflect.ValueOf(StringOrSet{s}))
			d.set[&v.Interface().(StringOrSet)[0]] = n
			return decoded
		}
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := d.scalar(n, path, "a string")
		if !ok {
			return failed
		}
		v.SetString(s)
	case reflect.Int:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return failed
		}
		i, err := strconv.ParseInt(strings.TrimSpace(s), 0, strconv.IntSize)
		if err != nil {
			d.addf(n, "%s: %s is not an integer", path, quote(s))
			return failed
		}
		v.SetInt(i)
	case reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return failed
		}
		switch strings.TrimSpace(s) {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.addf(n, "%s: %s is not a boolean: write true or false", path, quote(s))
			return failed
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.addf(n, "%s: expected a list, got %s", path, kindName(n))
			return failed
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			ev := s.Index(i)
			ptr := ev.Addr().Interface()
			// Elements keep their position even when null or bad, so that
			// validation can point at them (or stay quiet).
			d.set[ptr] = resolve(c)
			if d.value(c, ev, fmt.Sprintf("%s[%d]", path, i)) == failed {
				d.bad[ptr] = true
			}
		}
		v.Set(s)
	case reflect.Struct:
		return d.mapping(n, v, path)
	default:
		// Unreachable with the config types; a guard for future fields.
		d.addf(n, "%s: unsupported field type %s", path, v.Type())
		return failed
	}
	return decoded
}

// step counts one unit of decoding work and reports whether the budget
// allows it. Aliases and merge keys can make a small file describe an
// exponential amount of work; past the budget, decoding stops.
func (d *decoder) step(n *yaml.Node) bool {
	if d.steps++; d.steps <= maxSteps {
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		d.addf(n, "config too large: more than %d values once aliases and merges are expanded", maxSteps)
	}
	return false
}

// scalar returns n's value with ${ENV} expanded, or reports why it cannot.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addf(n, "%s: expected %s, got %s", path, want, kindName(n))
		return "", false
	}
	s, errs := expand(n.Value, d.lookup)
	for _, e := range errs {
		d.addf(n, "%s: %s", path, e)
	}
	return s, len(errs) == 0
}

// mapping decodes a mapping into the struct v, field by yaml tag. Merge keys
// (<<) apply first, the mapping's own keys win.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) result {
	if !d.step(n) {
		return failed
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n, "%s: expected a mapping, got %s", orRoot(path), kindName(n))
		return failed
	}
	fields := fieldsOf(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		if !d.step(k) {
			return failed
		}
		if k.Kind != yaml.ScalarNode {
			d.addf(k, "%s: a key must be a plain name, got %s", orRoot(path), kindName(k))
			continue
		}
		name := k.Value
		if first, dup := seen[name]; dup {
			d.addf(k, "%s: duplicate key %s (first at line %d)", join(path, name), quote(name), first.Line)
			continue
		}
		seen[name] = k
		idx, ok := fields[name]
		if !ok {
			msg := fmt.Sprintf("unknown key %s", quote(name))
			if path != "" {
				msg += " in " + path
			}
			if !d.full() { // past the problem cap, skip the suggestion's cost
				if s := suggest(name, fields); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", quote(s))
				}
			}
			d.addf(k, "%s", msg)
			continue
		}
		fv := v.Field(idx)
		ptr := fv.Addr().Interface()
		switch d.value(val, fv, join(path, name)) {
		case decoded:
			d.set[ptr] = resolve(val)
			delete(d.bad, ptr)
		case failed:
			d.bad[ptr] = true
		}
	}
	return decoded
}

// merge applies a merge key's value: a mapping or a list of mappings, the
// earlier ones winning.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	switch {
	case n == nil:
	case n.Kind == yaml.MappingNode:
		d.mapping(n, v, path)
	case n.Kind == yaml.SequenceNode:
		for i := len(n.Content) - 1; i >= 0 && d.step(n); i-- {
			if m := resolve(n.Content[i]); m != nil && m.Kind == yaml.MappingNode {
				d.mapping(m, v, path)
			} else {
				d.addf(n.Content[i], "%s: a merge (<<) list may hold only mappings", orRoot(path))
			}
		}
	default:
		d.addf(n, "%s: a merge (<<) needs a mapping or a list of mappings", orRoot(path))
	}
}

// fieldsOf maps the yaml names of t's fields to their indexes.
func fieldsOf(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

// suggest returns the known key closest to name, if it is a likely typo.
func suggest(name string, fields map[string]int) string {
	best, bestD := "", 3
	for f := range fields {
		if len(name) > len(f)+2 || len(f) > len(name)+2 {
			continue
		}
		if dist := editDistance(name, f); dist < bestD || (dist == bestD && f < best) {
			best, bestD = f, dist
		}
	}
	if bestD > 2 || bestD >= len(name) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance, for short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orRoot(path string) string {
	if path == "" {
		return "config"
	}
	return path
}
