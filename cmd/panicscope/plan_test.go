package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
)

func TestPlanUsage(t *testing.T) {
	for _, args := range [][]string{{"plan"}, {"plan", "a", "b"}, {"report"}, {"sym", "DUMP"}} {
		err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "DUMP|--live") {
			t.Errorf("%v: %v, want a usage error naming DUMP|--live", args, err)
		}
	}
}

// TestLiveWithoutKcore: with --live and no readable /proc/kcore the
// commands fail with an error naming the file (this test runs wherever
// /proc/kcore is missing or unreadable; elsewhere it checks nothing).
func TestLiveWithoutKcore(t *testing.T) {
	err := run([]string{"report", "--live", "--json"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Skip("/proc/kcore is readable here")
	}
	if !strings.Contains(err.Error(), "cannot read /proc/kcore: ") {
		t.Errorf("error does not name /proc/kcore: %v", err)
	}
}

// TestPlanOnKdumpPostNotifiers: the configured plan of the kdump fixture
// taken with crash_kexec_post_notifiers=Y, next to what ran.
func TestPlanOnKdumpPostNotifiers(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-zlib-postnotifiers")
	var out bytes.Buffer
	if err := run([]string{"plan", filepath.Join(fx.Dir, "vmcore"), "--json"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var got planJSON
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	p := got.Plan
	if p == nil || p.Basis != analysis.PlanBasisConfigured || got.Capture != string(analysis.CaptureKdump) {
		t.Fatalf("plan %+v capture %q", p, got.Capture)
	}
	var post *analysis.PlanStep
	for i := range p.Steps {
		if p.Steps[i].Step == "crash_kexec" && p.Steps[i].Slot == "after_kmsg_dump" {
			post = &p.Steps[i]
		}
	}
	if post == nil || post.Action != analysis.PlanRuns || post.Actual != "running" {
		t.Errorf("kdump after kmsg_dump: %+v", post)
	}
	found := false
	for _, w := range p.Warnings {
		if w.Code == analysis.WarnPostNotifiersBeforeKdump && strings.Contains(w.Text, "kdump loaded but crash_kexec_post_notifiers=Y: ") {
			found = true
		}
	}
	if !found {
		t.Errorf("warnings: %+v", p.Warnings)
	}
	out.Reset()
	if err := run([]string{"plan", "--width", "200", filepath.Join(fx.Dir, "vmcore")}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "as configured in the dump: message → stop_cpus → notifiers → kmsg_dump → kdump") {
		t.Errorf("text plan:\n%s", out.String())
	}
}
