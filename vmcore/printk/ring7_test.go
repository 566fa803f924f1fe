package printk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The id numbering is recognized from the ring, for each kernel line.
func TestRingbufferNumbering(t *testing.T) {
	for _, c := range []struct {
		line, want string
	}{
		{"6.1", "32-bit _DESCS_COUNT"},
		{"5.10", "32-bit _DESCS_COUNT"},
		{"7.3", "unsigned long _DESCS_COUNT"},
	} {
		r, _ := buildRing(t, c.line)
		l, err := Read(r.fake(nil, nil), r.info())
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		if !strings.Contains(l.Numbering, c.want) || !strings.Contains(l.Numbering, "holds seq") {
			t.Errorf("%s: Numbering = %q, want %q read from a descriptor", c.line, l.Numbering, c.want)
		}
	}
	// A ring nothing was written to: head_id = tail_id = DESC0_ID.
	for _, r := range []*testRing{newTestRing(4, 10), newTestRing7(4, 10)} {
		l, err := Read(r.fake(nil, nil), r.info())
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "32-bit", true: "unsigned long"}[r.v7]
		if !strings.Contains(l.Numbering, want) || !strings.Contains(l.Numbering, "nothing written") ||
			len(l.Records) != 0 || l.NextSeq != 0 {
			t.Errorf("empty ring (v7=%v): %q, %d records, next %d", r.v7, l.Numbering, len(l.Records), l.NextSeq)
		}
	}
}

// Every descriptor page missing: the numbering comes from the id range, and
// the gap still has the right sequence numbers.
func TestRingbuffer7DescPagesMissing(t *testing.T) {
	r := newTestRing7(8, 13)
	for i := 0; i < 100; i++ {
		r.add(tRec{text: filler(i, 90), flags: LogNewline})
	}
	l, err := Read(r.fake(nil, []int{0}), r.info())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.Numbering, "assumed from head_id") || !strings.Contains(l.Numbering, "unsigned long") {
		t.Errorf("Numbering = %q", l.Numbering)
	}
	if len(l.Records) != 0 || len(l.Gaps) != 1 || l.Gaps[0].FirstSeq != 0 || l.Gaps[0].LastSeq != 99 || l.NextSeq != 100 {
		t.Errorf("gaps %+v, %d records, next %d", l.Gaps, len(l.Records), l.NextSeq)
	}
	// Past count records the 7.x ids wrapped to small values: still 7.x.
	r = newTestRing7(3, 12)
	for i := 0; i < 30; i++ {
		r.add(tRec{text: fmt.Sprintf("msg %d", i), flags: LogNewline})
	}
	l, err = Read(r.fake(nil, []int{0}), r.info())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.Numbering, "unsigned long") || l.NextSeq != 30 || len(l.Gaps) != 1 || l.Gaps[0].FirstSeq != 22 {
		t.Errorf("wrapped ids: %q next %d gaps %+v", l.Numbering, l.NextSeq, l.Gaps)
	}
}

// A ring whose printk_info.seq values fit no known numbering is refused and
// named, not read as garbage.
func TestRingbufferUnknownNumbering(t *testing.T) {
	r, _ := buildRing(t, "7.3")
	for i := 0; i < len(r.infos); i += r.infoSize {
		s := binary.LittleEndian.Uint64(r.infos[i:])
		binary.LittleEndian.PutUint64(r.infos[i:], s+1<<40)
	}
	_, err := Read(r.fake(nil, nil), r.info())
	var le *LayoutError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "unsupported printk ring layout") ||
		!strings.Contains(le.Detail, "no known numbering") {
		t.Fatalf("err = %v", err)
	}
}

// 7.x keeps a block that ends exactly at the end of the text ring in place
// (is_blk_wrapped() on next - 1); 6.x moved it to index 0.
func TestRingbuffer7BlockEndsAtRingEnd(t *testing.T) {
	for _, v7 := range []bool{false, true} {
		r := newRing(4, 10, v7)
		// 120 bytes of text: 128-byte blocks, eight fill the 1 KiB ring.
		for i := 0; i < 8; i++ {
			r.add(tRec{text: filler(i, 120), flags: LogNewline})
		}
		if got := len(r.wrapped) > 0; got == v7 {
			t.Fatalf("v7=%v: wrapped %v", v7, r.wrapped)
		}
		r.add(tRec{text: "after the wrap", flags: LogNewline})
		l, err := Read(r.fake(nil, nil), r.info())
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Gaps) != 0 || len(l.Records) == 0 || l.Records[len(l.Records)-1].Text != "after the wrap" {
			t.Fatalf("v7=%v: gaps %+v, %d records", v7, l.Gaps, len(l.Records))
		}
		for _, rec := range l.Records[:len(l.Records)-1] {
			if rec.Text != filler(int(rec.Seq), 120) {
				t.Errorf("v7=%v: record %d = %q", v7, rec.Seq, rec.Text)
			}
		}
		if last := l.Records[len(l.Records)-2]; last.Seq != 7 {
			t.Errorf("v7=%v: the block at the end of the ring (seq 7) was lost: last filler %d", v7, last.Seq)
		}
	}
}
