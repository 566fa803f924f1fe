package analysis_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/target"
)

// drgnFacts is the part of meta.json's expected_from_memory_drgn the report
// is checked against (the fixture lab read it with drgn).
type drgnFacts struct {
	PanicCPU                int    `json:"panic_cpu"`
	CrashKexecPostNotifiers bool   `json:"crash_kexec_post_notifiers"`
	PanicOnOops             int64  `json:"panic_on_oops"`
	PanicOnWarn             int64  `json:"panic_on_warn"`
	PanicTimeout            int64  `json:"panic_timeout"`
	TaintedMask             string `json:"tainted_mask"`
	KexecCrashImageLoaded   bool   `json:"kexec_crash_image_loaded"`
	PanicNotifierList       []struct {
		Symbol   string `json:"symbol"`
		Module   string `json:"module"`
		Priority int    `json:"priority"`
	} `json:"panic_notifier_list"`
	KmsgDumpers []struct {
		Symbol    string `json:"symbol"`
		Module    string `json:"module"`
		MaxReason string `json:"max_reason"`
	} `json:"kmsg_dumpers"`
}

func facts(t *testing.T, fx testfixtures.Fixture) *drgnFacts {
	raw, ok := fx.Meta.Raw["expected_from_memory_drgn"]
	if !ok || raw == nil {
		return nil
	}
	data, _ := json.Marshal(raw)
	var f drgnFacts
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// TestReportMatchesFixtures checks chains, dumpers, parameters, the panic
// and the timeline against what each fixture is known to contain.
func TestReportMatchesFixtures(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			checkReport(t, fx, filepath.Join(fx.Dir, "vmcore"))
		})
	}
}

// TestReportMatchesArm64Fixtures: the same on every file of the arm64
// fixtures, plus the panicking task drgn found.
func TestReportMatchesArm64Fixtures(t *testing.T) {
	for _, fx := range testfixtures.AllArm64(t) {
		for _, file := range fx.Meta.Files {
			t.Run(fx.Name+"/"+file.Name, func(t *testing.T) {
				p := filepath.Join(fx.Dir, file.Name)
				if strings.HasSuffix(p, ".zst") {
					p = testfixtures.Decompressed(t, p)
				}
				r := checkReport(t, fx, p)
				task, _ := fx.Meta.Raw["expected_from_memory_drgn"].(map[string]any)["panic_task"].(map[string]any)
				if r.Panic.TaskPID == nil || r.Panic.TaskComm == nil || *r.Panic.TaskPID != int(task["pid"].(float64)) || *r.Panic.TaskComm != task["comm"] {
					t.Errorf("panicking task %v (pid %v), drgn %v", r.Panic.TaskComm, r.Panic.TaskPID, task)
				}
			})
		}
	}
}

func checkReport(t *testing.T, fx testfixtures.Fixture, path string) *analysis.Report {
	tg, err := target.Open(path, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	r := analysis.Build(tg)
	if r.Panic.Message == nil || *r.Panic.Message != fx.Meta.Expected.PanicMessage {
		t.Errorf("panic message %v, want %q", r.Panic.Message, fx.Meta.Expected.PanicMessage)
	}
	if r.Panic.CPU == nil || *r.Panic.CPU != fx.Meta.Expected.PanicCPU {
		t.Errorf("panic cpu %v, want %d", r.Panic.CPU, fx.Meta.Expected.PanicCPU)
	}
	checkParameters(t, r, fx)
	if f := facts(t, fx); f != nil {
		checkFacts(t, r, f)
	}
	checkTimeline(t, r, fx)
	return r
}

func checkParameters(t *testing.T, r *analysis.Report, fx testfixtures.Fixture) {
	p := r.Parameters
	if p.CrashKexecPostNotifiers == nil || *p.CrashKexecPostNotifiers != fx.Meta.Expected.CrashKexecPostNotifiers {
		t.Errorf("crash_kexec_post_notifiers = %v, want %v", p.CrashKexecPostNotifiers, fx.Meta.Expected.CrashKexecPostNotifiers)
	}
	kdump := strings.HasPrefix(fx.Name, "kdump-")
	if p.CrashKernelLoaded == nil || *p.CrashKernelLoaded != kdump {
		t.Errorf("crash kernel loaded = %v, want %v", p.CrashKernelLoaded, kdump)
	}
	wantCapture := analysis.CaptureHypervisor
	if kdump {
		wantCapture = analysis.CaptureKdump
	}
	if r.Kernel.Capture != wantCapture {
		t.Errorf("capture %q, want %q", r.Kernel.Capture, wantCapture)
	}
}

func checkFacts(t *testing.T, r *analysis.Report, f *drgnFacts) {
	p := r.Parameters
	if p.PanicOnOops == nil || *p.PanicOnOops != f.PanicOnOops {
		t.Errorf("panic_on_oops %v, want %d", p.PanicOnOops, f.PanicOnOops)
	}
	if p.PanicOnWarn == nil || *p.PanicOnWarn != f.PanicOnWarn {
		t.Errorf("panic_on_warn %v, want %d", p.PanicOnWarn, f.PanicOnWarn)
	}
	if p.PanicTimeout == nil || *p.PanicTimeout != f.PanicTimeout {
		t.Errorf("panic_timeout %v, want %d", p.PanicTimeout, f.PanicTimeout)
	}
	if r.Panic.TaintMask == nil || fmt.Sprintf("%#x", *r.Panic.TaintMask) != f.TaintedMask {
		t.Errorf("tainted_mask %v, want %s", r.Panic.TaintMask, f.TaintedMask)
	}
	var got, want []string
	for _, c := range r.Chains {
		if c.Name == "panic_notifier_list" {
			for _, e := range c.Entries {
				if e.Priority == nil {
					t.Errorf("%s: priority unread", e.Callback)
					continue
				}
				got = append(got, fmt.Sprintf("%s[%s]%d", e.Callback, e.Module, *e.Priority))
			}
		}
	}
	for _, e := range f.PanicNotifierList {
		want = append(want, fmt.Sprintf("%s[%s]%d", e.Symbol, e.Module, e.Priority))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("panic_notifier_list\n got  %v\n want %v", got, want)
	}
	got, want = nil, nil
	for _, d := range r.Dumpers {
		got = append(got, fmt.Sprintf("%s[%s]%s", d.Callback, d.Module, d.ReasonName))
	}
	for _, d := range f.KmsgDumpers {
		want = append(want, fmt.Sprintf("%s[%s]%s", d.Symbol, d.Module, d.MaxReason))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kmsg dumpers\n got  %v\n want %v", got, want)
	}
}

// checkTimeline asserts the story each kind of fixture must tell.
func checkTimeline(t *testing.T, r *analysis.Report, fx testfixtures.Fixture) {
	step := func(name timeline.StepName, slot string) *timeline.Step {
		for i := range r.Timeline {
			if r.Timeline[i].Step == name && (slot == "" || r.Timeline[i].Slot == slot) {
				return &r.Timeline[i]
			}
		}
		t.Fatalf("no %s step (slot %q) in the timeline", name, slot)
		return nil
	}
	want := func(s *timeline.Step, status timeline.Status) {
		t.Helper()
		if s.Status != status {
			t.Errorf("%s/%s: status %s (%s), want %s", s.Step, s.Slot, s.Status, s.Reason, status)
		}
	}
	notifiers, kmsg, end := step("notifiers", ""), step("kmsg_dump", ""), step("end", "")
	switch {
	case strings.HasPrefix(fx.Name, "kdump-") && !fx.Meta.Expected.CrashKexecPostNotifiers:
		want(step("crash_kexec", timeline.SlotBeforeNotifiers), timeline.Running)
		want(notifiers, timeline.NotReached)
		want(kmsg, timeline.NotReached)
		for _, m := range notifiers.Members {
			if m.Status != timeline.NotReached {
				t.Errorf("notifier %s: %s, want not_reached", m.Name, m.Status)
			}
		}
	case strings.HasPrefix(fx.Name, "kdump-"):
		want(step("crash_kexec", timeline.SlotBeforeNotifiers), timeline.Skipped)
		want(step("crash_kexec", timeline.SlotAfterKmsgDump), timeline.Running)
		want(notifiers, timeline.Ran)
		want(kmsg, timeline.Ran)
		if !memberHasLog(notifiers, "labpanic_notify_loud", "labpanic: notifier prio=10 saw panic") {
			t.Errorf("labpanic_notify_loud has no log-line evidence")
		}
	default: // QEMU dump taken after the panic finished
		want(notifiers, timeline.Ran)
		want(end, timeline.Running)
		found := false
		for _, e := range end.Evidence {
			found = found || strings.HasPrefix(e.Text, "---[ end Kernel panic")
		}
		if !found {
			t.Errorf("end step has no \"---[ end Kernel panic\" evidence")
		}
	}
}

func memberHasLog(s *timeline.Step, name, prefix string) bool {
	for _, m := range s.Members {
		if m.Name != name {
			continue
		}
		for _, e := range m.Evidence {
			if strings.HasPrefix(e.Text, prefix) {
				return true
			}
		}
	}
	return false
}

// TestPstoreRecords decodes the ramoops zones of the pstore fixture.
func TestPstoreRecords(t *testing.T) {
	fx := testfixtures.Get(t, "qemu-6.1-lp-oops-pstore")
	tg, err := target.Open(filepath.Join(fx.Dir, "vmcore"), target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	r := analysis.Build(tg)
	if r.Pstore == nil || r.Pstore.Backend == nil || *r.Pstore.Backend != "ramoops" {
		t.Fatalf("pstore backend %+v, want ramoops", r.Pstore)
	}
	var titles []string
	for _, rec := range r.Pstore.Records {
		if rec.Kind == "dmesg" {
			titles = append(titles, rec.Title)
		}
	}
	if strings.Join(titles, ",") != "Oops#1 Part1,Panic#2 Part1" {
		t.Errorf("ramoops dmesg records %q, want Oops#1 Part1, Panic#2 Part1", titles)
	}
}
