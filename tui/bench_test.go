package tui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/target"
)

// BenchmarkFirstFrame measures, on the LZO-compressed 6.1 kdump, the time
// from start to the first Overview frame (dump identified) and to the first
// full Overview frame (log read, analysis built, verdict shown), running the
// load commands as the program does and rendering the screen.
//
//	go test ./tui -run '^$' -bench FirstFrame -benchtime 20x
func BenchmarkFirstFrame(b *testing.B) {
	path := filepath.Join(testfixtures.Dir(b), "kdump-6.1-lzo", "vmcore")
	var first, full time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		src := NewDumpSource(path, target.Options{})
		m := New(src, Options{})
		m, _ = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
		m, next := update(m, identifyCmd(src)())
		if s := m.View().Content; !strings.Contains(s, "6.1.0-56-amd64") {
			b.Fatalf("first frame lacks the release:\n%s", s)
		}
		first += time.Since(start)
		for next != nil {
			m, next = update(m, next())
		}
		if s := m.View().Content; !strings.Contains(s, "kdump ran before the panic notifiers") {
			b.Fatalf("full frame lacks the verdict:\n%s", s)
		}
		full += time.Since(start)
		n++
		if err := src.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(first.Microseconds())/float64(n)/1000, "ms/first-frame")
	b.ReportMetric(float64(full.Microseconds())/float64(n)/1000, "ms/full-frame")
}
