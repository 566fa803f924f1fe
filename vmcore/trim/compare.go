package trim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/panicscope/panicscope/vmcore/analysis"
)

// Differences compares two reports as their JSON and lists the paths
// ("identity.format", "chains[2].entries") whose values differ, leaving out
// ContainerFields. A trimmed dump's report has none against its source's.
func Differences(a, b *analysis.Report) ([]string, error) {
	var va, vb any
	for _, x := range []struct {
		r *analysis.Report
		v *any
	}{{a, &va}, {b, &vb}} {
		data, err := json.Marshal(x.r)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, x.v); err != nil {
			return nil, err
		}
	}
	var out []string
	diff("", va, vb, &out)
	return out, nil
}

func diff(path string, a, b any, out *[]string) {
	if slices.Contains(ContainerFields, path) {
		return
	}
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if okA && okB {
		keys := map[string]bool{}
		for k := range ma {
			keys[k] = true
		}
		for k := range mb {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diff(p, ma[k], mb[k], out)
		}
		return
	}
	la, okA := a.([]any)
	lb, okB := b.([]any)
	if okA && okB && len(la) == len(lb) {
		for i := range la {
			diff(fmt.Sprintf("%s[%d]", path, i), la[i], lb[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}
