package tui

import (
	"reflect"
	"strings"

	"github.com/panicscope/panicscope/views"
)

// makePrintable escapes, in place, the control characters of every
// string reachable through v's exported fields (a pointer to the identity
// or the report), newlines excepted, as views.Printable does. Those strings come from the dump — task names,
// symbol names, messages — and one holding an escape sequence would
// otherwise drive the terminal (set its title, write the clipboard).
func makePrintable(v any) {
	walkPrintable(reflect.ValueOf(v), map[uintptr]bool{})
}

// printableText is views.Printable line by line: a text of several lines
// (a pstore record) keeps its newlines.
func printableText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = views.Printable(l)
	}
	return strings.Join(lines, "\n")
}

func walkPrintable(v reflect.Value, seen map[uintptr]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		walkPrintable(v.Elem(), seen)
	case reflect.Interface:
		if !v.IsNil() && v.Elem().Kind() == reflect.Pointer {
			walkPrintable(v.Elem(), seen)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				walkPrintable(f, seen)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkPrintable(v.Index(i), seen)
		}
	case reflect.Map:
		if !v.CanSet() {
			return
		}
		iter := v.MapRange()
		type entry struct{ k, val reflect.Value }
		var changed []entry
		for iter.Next() {
			k, val := iter.Key(), iter.Value()
			nk := reflect.New(k.Type()).Elem()
			nk.Set(k)
			walkPrintable(nk, seen)
			nv := reflect.New(val.Type()).Elem()
			nv.Set(val)
			walkPrintable(nv, seen)
			changed = append(changed, entry{nk, nv})
			v.SetMapIndex(k, reflect.Value{}) // deleted; put back below
		}
		for _, e := range changed {
			v.SetMapIndex(e.k, e.val)
		}
	case reflect.String:
		if s := v.String(); v.CanSet() {
			if p := printableText(s); p != s {
				v.SetString(p)
			}
		}
	}
}
