package testfixtures

import "testing"

func TestAllHaveReleases(t *testing.T) {
	for _, f := range All(t) {
		if f.Meta.KernelRelease == "" {
			t.Errorf("%s: meta.json has no kernel_release", f.Name)
		}
	}
}
