package views

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/panicscope/panicscope/vmcore/printk"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// LevelNames are the kernel's log levels (include/linux/kern_levels.h).
var LevelNames = [8]string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

// LogState is the Log page's scrolling, filter and search state. The TUI
// keeps it; FilterLog and SearchLog compute its index lists.
type LogState struct {
	Visible  []int // indexes into Data.Log at or below MaxLevel, in order
	MaxLevel int   // 7 shows every line
	Offset   int   // first shown entry of Visible
	XOffset  int   // cells scrolled right when not wrapping
	Wrap     bool  // wrap long lines instead of cutting them
	Query    string
	Matches  []int // entries of Visible whose text holds Query
	Mark     int   // entry of Visible jumped to or found; -1 for none
}

// FilterLog lists the lines at or below maxLevel (more severe or equal).
func FilterLog(lines []printk.Line, maxLevel int) []int {
	out := make([]int, 0, len(lines))
	for i, l := range lines {
		if l.Level <= maxLevel {
			out = append(out, i)
		}
	}
	return out
}

// SearchLog lists the entries of visible whose line as printed (timestamp
// and text) holds q, ignoring case: what is on the screen can be found.
func SearchLog(lines []printk.Line, visible []int, q string) []int {
	if q == "" {
		return nil
	}
	q = strings.ToLower(q)
	var out []int
	for vi, i := range visible {
		if strings.Contains(strings.ToLower(printedLine(lines[i])), q) {
			out = append(out, vi)
		}
	}
	return out
}

// printedLine is a log line as the Log page prints it; the text comes
// from the dump (user space writes to /dev/kmsg too), so what a terminal
// would act on is replaced, as dmesg escapes it.
func printedLine(l printk.Line) string {
	return printk.FormatTimestamp(l.TS) + " " + Printable(l.Text)
}

// PanicLine is the index of the first line of the panic message's record
// (printk.PanicInLines: the "Kernel panic - not syncing" line, else the
// closing "---[ end Kernel panic" line); -1 when the log has neither.
func PanicLine(lines []printk.Line) int {
	i, _, _ := printk.PanicInLines(lines)
	return i
}

// PanicIndex is the index in d.Log of the panic message: the analysis'
// record when it has one, else PanicLine; -1 when neither is found.
func PanicIndex(d Data) int {
	if r := d.Report; r != nil && r.Panic.Seq != nil {
		if i := LineForSeq(d.Log, *r.Panic.Seq); i >= 0 {
			return i
		}
	}
	return PanicLine(d.Log)
}

// LineForSeq is the index of the first line of record seq, -1 if absent.
func LineForSeq(lines []printk.Line, seq uint64) int {
	i := sort.Search(len(lines), func(i int) bool { return lines[i].Seq >= seq })
	if i < len(lines) && lines[i].Seq == seq {
		return i
	}
	return -1
}

// LogBodyHeight is the number of log rows on a page h lines tall.
func LogBodyHeight(h int) int { return max(h-1, 0) }

const logGutter = 2 // cursor glyph and a space

// LogLastOffset is the offset that shows the last lines at the bottom.
func LogLastOffset(d Data, s LogState, w, h int) int {
	body := LogBodyHeight(h)
	if !s.Wrap {
		return max(len(s.Visible)-body, 0)
	}
	rows := 0
	for vi := len(s.Visible) - 1; vi >= 0; vi-- {
		rows += len(logRows(d.Log[s.Visible[vi]], w-logGutter))
		if rows > body {
			return vi + 1
		}
	}
	return 0
}

// Log is the kernel log page: a header line and the lines from s.Offset.
func Log(d Data, s LogState, w, h int, st Styles) string {
	return strings.Join(LogLines(d, s, w, h, st), "\n")
}

// LogLines is the Log page as exactly h lines.
func LogLines(d Data, s LogState, w, h int, st Styles) []string {
	if h <= 0 {
		return nil
	}
	out := []string{st.truncate(logHeader(d, s, st), w)}
	if len(d.Log) == 0 {
		out = append(out, st.Dim.Render(st.truncate(d.missing("kernel log", d.LogErr), w)))
	}
	body := LogBodyHeight(h)
	avail := w - logGutter
	for vi := max(s.Offset, 0); vi < len(s.Visible) && len(out) <= body; vi++ {
		l := d.Log[s.Visible[vi]]
		gutter := "  "
		if vi == s.Mark {
			gutter = st.Glyphs.Cursor + " "
		}
		full, spans := logText(l, s.Query)
		var rows [][2]int
		if s.Wrap {
			rows = logRows(l, avail)
		} else {
			rows = [][2]int{cellRange(full, s.XOffset, avail)}
		}
		for ri, r := range rows {
			if len(out) > body {
				break
			}
			row := st.styleSpans(full, r, spans, l.Level, vi == s.Mark)
			prefix := gutter
			if ri > 0 {
				prefix = "  " + strings.Repeat(" ", contIndent(l, avail))
			}
			if !s.Wrap && r[1] < len(full) {
				row = st.truncate(row+" ", avail)
			}
			out = append(out, prefix+row)
		}
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

func logHeader(d Data, s LogState, st Styles) string {
	parts := []string{st.Heading.Render("Kernel log")}
	if len(d.Log) > 0 {
		parts = append(parts, fmt.Sprintf("%d lines", len(d.Log)))
		if s.MaxLevel < 7 {
			parts = append(parts, fmt.Sprintf("%d shown, level ≤ %s", len(s.Visible), LevelNames[max(s.MaxLevel, 0)]))
		}
		if r := d.Report; r != nil && r.Log != nil && (r.Log.Dropped > 0 || r.Log.Gaps > 0) {
			parts = append(parts, st.Warning.Render(fmt.Sprintf("%d overwritten, %d unreadable runs", r.Log.Dropped, r.Log.Gaps)))
		}
	}
	if s.Query != "" {
		hit := sort.SearchInts(s.Matches, s.Mark)
		pos := "-"
		if hit < len(s.Matches) && s.Matches[hit] == s.Mark {
			pos = fmt.Sprint(hit + 1)
		}
		parts = append(parts, fmt.Sprintf("/%s %s of %d", s.Query, pos, len(s.Matches)))
	}
	if !s.Wrap && s.XOffset > 0 {
		parts = append(parts, fmt.Sprintf("column %d", s.XOffset+1))
	}
	h := strings.Join(parts, st.Glyphs.Sep)
	if st.Glyphs.ASCII {
		h = strings.ReplaceAll(h, "≤", "<=")
	}
	return h
}

// logSpan is a styled byte range of a log line: the timestamp or a search hit.
type logSpan struct {
	from, to int
	hit      bool
}

// logText is the line as printed and where its timestamp and search hits
// are; hits may fall in the timestamp, as SearchLog finds them there.
func logText(l printk.Line, q string) (string, []logSpan) {
	l.Text = termsafe.String(l.Text)
	ts := printk.FormatTimestamp(l.TS)
	full := printedLine(l)
	spans := []logSpan{{0, len(ts), false}}
	if q == "" {
		return full, spans
	}
	lower, lq := strings.ToLower(full), strings.ToLower(q)
	if len(lower) != len(full) {
		return full, spans // case folding changed the length: no highlight
	}
	var hits []logSpan
	for i := 0; ; {
		j := strings.Index(lower[i:], lq)
		if j < 0 {
			break
		}
		hits = append(hits, logSpan{i + j, i + j + len(lq), true})
		i += j + len(lq)
	}
	// styleSpans wants spans in order and apart: the timestamp is styled
	// around the hits that fall in it.
	spans, pos := spans[:0], 0
	for _, h := range hits {
		if h.from >= len(ts) {
			break
		}
		if h.from > pos {
			spans = append(spans, logSpan{pos, h.from, false})
		}
		pos = max(pos, h.to)
	}
	if pos < len(ts) {
		spans = append(spans, logSpan{pos, len(ts), false})
	}
	spans = append(spans, hits...)
	sort.Slice(spans, func(a, b int) bool { return spans[a].from < spans[b].from })
	return full, spans
}

func tsWidth(l printk.Line) int { return len(printk.FormatTimestamp(l.TS)) + 1 }

// contIndent is the indent of a wrapped line's next rows in w cells:
// under the text, as long as that leaves 8 cells for it.
func contIndent(l printk.Line, w int) int { return max(min(tsWidth(l), w-8), 0) }

// logRows splits a line into the byte ranges of its wrapped rows: the first
// row is w cells, the next ones are indented under the text.
func logRows(l printk.Line, w int) [][2]int {
	full := printedLine(l)
	ind := contIndent(l, w)
	var rows [][2]int
	start, rw := 0, w
	for {
		r := cellRange(full[start:], 0, rw)
		r[0], r[1] = r[0]+start, r[1]+start
		// Break after the last space in the second half of the row.
		if r[1] < len(full) && full[r[1]] != ' ' {
			if sp := strings.LastIndexByte(full[r[0]:r[1]], ' '); sp > (r[1]-r[0])/2 {
				r[1] = r[0] + sp + 1
			}
		}
		rows = append(rows, r)
		if r[1] >= len(full) || r[1] == r[0] {
			return rows
		}
		start, rw = r[1], max(w-ind, 1)
	}
}

// cellRange is the byte range of s that covers the cells [skip, skip+w).
func cellRange(s string, skip, w int) [2]int {
	from, to, cells := len(s), len(s), 0
	started := false
	for i, r := range s {
		rw := max(ansi.StringWidth(string(r)), 0)
		if !started && cells >= skip {
			from, started = i, true
		}
		if started && cells+rw > skip+w {
			to = i
			return [2]int{from, to}
		}
		cells += rw
	}
	if !started {
		from = len(s)
	}
	return [2]int{from, to}
}

// styleSpans renders the bytes r of s: the timestamp, the text in its
// level's style, search hits highlighted.
func (st Styles) styleSpans(s string, r [2]int, spans []logSpan, level int, marked bool) string {
	text := st.Level[min(max(level, 0), 7)]
	if marked {
		text = text.Inherit(st.Marked)
	}
	var b strings.Builder
	pos := r[0]
	emit := func(to int, style func(...string) string) {
		if to > pos {
			b.WriteString(style(s[pos:to]))
			pos = to
		}
	}
	for _, sp := range spans {
		if sp.to <= pos || sp.from >= r[1] {
			continue
		}
		emit(max(sp.from, pos), text.Render)
		style := st.Timestamp.Render
		if sp.hit {
			style = st.Match.Render
		}
		emit(min(sp.to, r[1]), style)
	}
	emit(r[1], text.Render)
	return b.String()
}

// LogShown is the range [first, last] of entries of s.Visible on screen.
func LogShown(d Data, s LogState, w, h int) (first, last int) {
	body := LogBodyHeight(h)
	rows := 0
	first = max(s.Offset, 0)
	last = first - 1
	for vi := first; vi < len(s.Visible); vi++ {
		n := 1
		if s.Wrap {
			n = len(logRows(d.Log[s.Visible[vi]], w-logGutter))
		}
		if rows+n > body && vi > first {
			break
		}
		rows += n
		last = vi
		if rows >= body {
			break
		}
	}
	return first, last
}
