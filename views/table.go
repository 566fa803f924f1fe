package views

import "strings"

// tableColumn is one tableColumn of a table; one flex tableColumn takes the width left.
type tableColumn struct {
	title string
	width int
	flex  bool
	right bool
}

// table lays cells (already styled) out in columns two spaces apart, indented
// by two, with a dim title row. The flex tableColumn never gets fewer than 8 cells.
func (st Styles) table(cols []tableColumn, rows [][]string, w int) []string {
	const gap, indent = 2, 2
	used := indent + gap*(len(cols)-1)
	for _, c := range cols {
		if !c.flex {
			used += c.width
		}
	}
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = c.width
		if c.flex {
			widths[i] = max(w-used, 8)
			// Shrink the flex tableColumn to its widest cell.
			widest := cellWidth(c.title)
			for _, r := range rows {
				if i < len(r) {
					widest = max(widest, cellWidth(r[i]))
				}
			}
			widths[i] = min(widths[i], widest)
		}
	}
	line := func(cells []string, style func(...string) string) string {
		var b strings.Builder
		b.WriteString(strings.Repeat(" ", indent))
		for i := range cols {
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			if i > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			}
			if cols[i].right {
				cell = st.truncate(cell, widths[i])
				b.WriteString(strings.Repeat(" ", widths[i]-cellWidth(cell)) + cell)
			} else if i == len(cols)-1 {
				b.WriteString(st.truncate(cell, widths[i]))
			} else {
				b.WriteString(st.pad(cell, widths[i]))
			}
		}
		s := strings.TrimRight(b.String(), " ")
		if style != nil {
			s = style(s)
		}
		return s
	}
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	out := []string{line(titles, st.Dim.Render)}
	for _, r := range rows {
		out = append(out, line(r, nil))
	}
	return out
}
