package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/trim"
)

// TestDemoEmbedded opens the dump built into the binary (no fixtures
// needed) and checks the story a trainer is shown.
func TestDemoEmbedded(t *testing.T) {
	b, err := demoBytes()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 8<<20 {
		t.Errorf("embedded demo dump is %d bytes, over the 8 MiB budget", len(b))
	}
	tg, err := openDemo(target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	r := analysis.Build(tg)
	if r.Panic.Message == nil || *r.Panic.Message != "Fatal exception" || !strings.HasPrefix(r.Panic.FirstReport, "Oops: ") {
		t.Errorf("panic %v after %q", r.Panic.Message, r.Panic.FirstReport)
	}
	var notifiers []string
	for _, c := range r.Chains {
		if c.Name == "panic_notifier_list" {
			for _, e := range c.Entries {
				notifiers = append(notifiers, e.Callback)
			}
		}
	}
	if len(notifiers) == 0 || !strings.Contains(strings.Join(notifiers, " "), "labpanic_notify_loud") {
		t.Errorf("panic_notifier_list: %v", notifiers)
	}
	if r.Pstore == nil || len(r.Pstore.Records) < 2 {
		t.Errorf("pstore: %+v", r.Pstore)
	}
	if n := len(r.Timeline); n == 0 || r.Timeline[n-1].Step != "end" {
		t.Errorf("timeline does not reach the end step: %+v", r.Timeline)
	}
	if len(r.Problems) > 0 {
		t.Errorf("problems (the demo copy may be stale: run scripts/make-demo.sh): %v", r.Problems)
	}
	if !r.Identity.Filtered || r.Identity.Format != "kdump-compressed" {
		t.Errorf("identity: %+v", r.Identity)
	}
}

func TestDemoDumpFile(t *testing.T) {
	path, cleanup, err := demoDump()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(filepath.Dir(path)) != demoFixture {
		t.Errorf("path %s does not name the fixture", path)
	}
	var out bytes.Buffer
	if err := run([]string{"info", path}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Fatal exception") {
		t.Errorf("info on the demo dump:\n%s", out.String())
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(filepath.Dir(path))); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s: %v", path, err)
	}
}

// TestDemoMatchesFixture checks the embedded copy still holds everything
// the analysis reads: its report equals the fixture's but for the
// container fields. When the analysis learns to read more, this fails
// until scripts/make-demo.sh is run.
func TestDemoMatchesFixture(t *testing.T) {
	fx := testfixtures.Get(t, demoFixture)
	src, err := target.Open(filepath.Join(fx.Dir, "vmcore"), target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	demo, err := openDemo(target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	diffs, err := trim.Differences(analysis.Build(src), analysis.Build(demo))
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("the embedded demo dump is stale (run scripts/make-demo.sh): its report differs at %v", diffs)
	}
}
