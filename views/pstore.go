package views

import (
	"fmt"
	"strings"
)

// PstoreHasText reports whether the analysis read the text of any pstore
// record (decompressed when the record was compressed).
func PstoreHasText(d Data) bool {
	if d.Report == nil || d.Report.Pstore == nil {
		return false
	}
	for _, rec := range d.Report.Pstore.Records {
		if rec.Text != "" {
			return true
		}
	}
	return false
}

// PstoreText is the text of every pstore record that has one, each under a
// heading naming its zone, kind and title, wrapped to w cells. Records
// without text are named with the reason.
func PstoreText(d Data, w int, st Styles) []string {
	p := &pageDoc{st: st, w: w}
	if d.Report == nil || d.Report.Pstore == nil {
		p.add(st.Dim.Render(st.truncate(d.missing("pstore records", d.ReportErr), w)))
		return p.lines
	}
	for _, rec := range d.Report.Pstore.Records {
		p.heading(fmt.Sprintf("zone %d %s %s", rec.Zone, rec.Kind, Printable(rec.Title)))
		if rec.Text == "" {
			why := "the record holds no text"
			if rec.Compressed {
				why = "the record is compressed and its text could not be read"
			}
			p.para(2, why, st.Dim.Render)
			continue
		}
		for _, l := range strings.Split(strings.TrimRight(rec.Text, "\n"), "\n") {
			p.add(wrapCells(Printable(l), w)...)
		}
	}
	return p.lines
}
