package testfixtures

import "testing"

func TestAllHaveReleases(t *testing.T) {
	for _, f := range All(t) {
		if f.Meta.KernelRelease == "" {
			t.Errorf("%s: meta.json has no kernel_release", f.Name)
		}
	}
}

// TestArm64Apart: the arm64 fixtures are listed by AllArm64 only, never by
// All, and every one names an arm64 kernel.
func TestArm64Apart(t *testing.T) {
	x86 := map[string]bool{}
	for _, f := range All(t) {
		x86[f.Name] = true
	}
	arm := AllArm64(t)
	if len(arm) == 0 {
		t.Fatal("no arm64 fixture with a meta.json")
	}
	for _, f := range arm {
		if x86[f.Name] {
			t.Errorf("%s listed by All too", f.Name)
		}
		if f.Meta.KernelRelease == "" || f.Meta.Raw["expected"] == nil {
			t.Errorf("%s: meta.json lacks kernel_release or expected", f.Name)
		}
	}
}
