package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/tui"
	"github.com/panicscope/panicscope/vmcore/target"
)

// BenchmarkFirstFrame measures, on the LZO-compressed 6.1 kdump, the time
// from start to the first Overview frame (dump identified) and to the first
// full Overview frame (log read, analysis built, verdict shown), running
// the model's commands as the program does and rendering the screen.
//
//	go test ./cmd/panicscope -run '^$' -bench FirstFrame -benchtime 20x
func BenchmarkFirstFrame(b *testing.B) {
	path := filepath.Join(testfixtures.Dir(b), "kdump-6.1-lzo", "vmcore")
	var first, full time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		src := newDumpSource(path, target.Options{})
		var m tea.Model = tui.New(src, tui.Options{})
		m, _ = m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		msgs := make(chan tea.Msg, 16)
		run := func(c tea.Cmd) {
			if c != nil {
				go func() { msgs <- c() }()
			}
		}
		run(m.Init())
		sawFirst := false
		for {
			var msg tea.Msg
			select {
			case msg = <-msgs:
			case <-time.After(30 * time.Second):
				b.Fatalf("no full Overview after 30 s:\n%s", m.View().Content)
			}
			var cmd tea.Cmd
			switch msg := msg.(type) {
			case tea.BatchMsg:
				for _, c := range msg {
					run(c)
				}
				continue
			case nil, spinner.TickMsg:
				continue // let the spinner stop
			default:
				m, cmd = m.Update(msg)
			}
			run(cmd)
			s := m.View().Content
			if !sawFirst && strings.Contains(s, "6.1.0-56-amd64") {
				first += time.Since(start)
				sawFirst = true
			}
			if strings.Contains(s, "kdump ran before the panic notifiers") {
				break
			}
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
