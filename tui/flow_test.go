package tui

import (
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// recorder keeps the last screen the program drew, without escape codes,
// so the test reads what a user would see rather than the renderer's diffs.
type recorder struct {
	Model
	screen *lockedString
}

type lockedString struct {
	mu sync.Mutex
	s  string
}

func (r recorder) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := r.Model.Update(msg)
	r.Model = m.(Model)
	return r, cmd
}

func (r recorder) View() tea.View {
	v := r.Model.View()
	r.screen.mu.Lock()
	r.screen.s = ansi.Strip(v.Content)
	r.screen.mu.Unlock()
	return v
}

// waitScreen waits until the last screen holds every one of want.
func waitScreen(t *testing.T, ls *lockedString, want ...string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ls.mu.Lock()
		last = ls.s
		ls.mu.Unlock()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(last, w)
		}
		if ok {
			return
		}
	}
	t.Fatalf("screen never showed %q; last screen:\n%s", want, last)
}

// TestFlow drives the whole program: open → Timeline → expand a step →
// jump to its log line → search the log → quit.
func TestFlow(t *testing.T) {
	src := loadFake(t, "kdump-6.1-lzo")
	ls := &lockedString{}
	tm := teatest.NewTestModel(t, recorder{New(src, Options{}), ls}, teatest.WithInitialTermSize(80, 24))

	waitScreen(t, ls, "[1 Overview]", "Verdict    kdump ran before the panic notifiers")
	tm.Type("2")
	waitScreen(t, ls, "[2 Timeline]", "› ▶  2 crash_kexec (before notifiers)")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, ls, "running: the crash kernel took the dump inside __crash_kexec()", "cpu     cpu 1 (panicking)")
	tm.Type("k")
	waitScreen(t, ls, "› ✓  1 message")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, ls, "log     [4.121886] Kernel panic - not syncing")
	tm.Type("j")
	waitScreen(t, ls, "›      log     [4.121886] Kernel panic")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter}) // on the evidence line: go to the log
	waitScreen(t, ls, "[5 Log]", "› [    4.121886] Kernel panic - not syncing: labpanic")
	tm.Type("/notifier")
	waitScreen(t, ls, "/notifier")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, ls, "/notifier 1 of 1", "› [    1.993905] labpanic: loaded, 3 panic notifiers")
	tm.Type("q")

	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(recorder).Model
	if final.page().Title() != "Log" || logOf(final).s.Query != "notifier" {
		t.Errorf("final page %s, query %q", final.page().Title(), logOf(final).s.Query)
	}
	if got := strings.Join(src.calls, ","); got != "identify,log,analyse" {
		t.Errorf("source calls %s", got)
	}
}

// TestFlowSearchAndBacktrace drives the program: the Log page opens on the
// panic line; /labpanic from there goes to the next hit with the status
// line on it; N goes back; the CPUs page opens the panicking CPU's whole
// backtrace and esc closes it; ":" runs a command and shows its output.
func TestFlowSearchAndBacktrace(t *testing.T) {
	src := loadFake(t, "kdump-6.1-lzo")
	ls := &lockedString{}
	tm := teatest.NewTestModel(t, recorder{New(src, Options{}), ls}, teatest.WithInitialTermSize(80, 24))

	waitScreen(t, ls, "Verdict    kdump ran before the panic notifiers")
	tm.Type("5")
	waitScreen(t, ls, "[5 Log]", "› [    4.121886] Kernel panic - not syncing: labpanic", "line 61/96")
	tm.Type("/labpanic")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, ls, "/labpanic 5 of 7", "› [    4.123494]  labpanic_do_panic+0x18/0x18", "line 68/96")
	tm.Type("N")
	waitScreen(t, ls, "/labpanic 4 of 7", "› [    4.121886] Kernel panic", "line 61/96")
	tm.Type("/4.123654")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, ls, "/4.123654 1 of 1", "› [    4.123654]  labpanic_write")
	tm.Type("6")
	waitScreen(t, ls, "[6 CPUs]", "› CPU 1  panicking", "cpu 2/2")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, ls, "Backtrace of CPU 1", "#0 __crash_kexec+0x11a/0x130", "#9 entry_SYSCALL_64_after_hwframe+0x6e/0xd8")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	waitScreen(t, ls, "› CPU 1  panicking", "enter backtrace")
	// The command line: its output in a pane over the page, esc closes it.
	tm.Type(":echo one two")
	waitScreen(t, ls, ":echo one two")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, ls, ":echo one two · esc closes", "\none", "\ntwo")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	waitScreen(t, ls, "› CPU 1  panicking")
	tm.Type("q")
	tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
}
