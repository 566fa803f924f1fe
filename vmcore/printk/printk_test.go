package printk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// buildRing writes a log with every kind of record the reader must handle
// into a ring small enough (2 KiB of text) that its data wraps.
func buildRing(t *testing.T, line string) (*testRing, map[string]uint64) {
	t.Helper()
	r := newTestRing(5, 11)
	switch line {
	case "5.10":
		r.v510 = true
	case "7.3":
		r = newTestRing7(5, 11)
	}
	seqs := map[string]uint64{}
	ts := uint64(0)
	add := func(name string, rc tRec) {
		ts += 1234567
		if rc.ts == 0 {
			rc.ts = ts
		}
		if rc.caller == 0 {
			rc.caller = 1
		}
		if rc.flags == 0 && !rc.dataless && !rc.noNL {
			rc.flags = LogNewline
		}
		seqs[name] = r.add(rc)
	}
	add("version", tRec{text: "Linux version 6.1.0-56-amd64", level: 5})
	// Fillers: push the first records out of the 2 KiB data ring and make
	// one block wrap around its end.
	for i := 0; len(r.wrapped) == 0; i++ {
		add(fmt.Sprintf("filler%d", i), tRec{text: filler(i, 150), level: 6})
	}
	seqs["wrapped"] = r.wrapped[0]
	add("multi", tRec{text: "line one\nline two\n  line three", level: 4})
	add("cont1", tRec{text: "cont start", level: 6, noNL: true, caller: 0x80000001})
	add("cont2", tRec{text: " and more", level: 6, flags: LogCont | LogNewline, caller: 0x80000001})
	add("dev", tRec{text: "virtio_net virtio1 enp0s2: renamed from eth0", level: 6, subsys: "virtio", device: "+virtio:virtio1"})
	add("empty", tRec{dataless: true, lpos: noLpos, level: 6})
	add("failed", tRec{dataless: true, lpos: failedLpos, level: 6})
	add("panic", tRec{text: "Kernel panic - not syncing: sysrq triggered crash", level: 0, caller: 117})
	add("end", tRec{text: "---[ end Kernel panic - not syncing: sysrq triggered crash ]---", level: 0, caller: 117})
	add("reserved", tRec{text: "half written", setState: true, state: descReserved})
	return r, seqs
}

func recordBySeq(l *Log, seq uint64) (Record, bool) {
	for _, r := range l.Records {
		if r.Seq == seq {
			return r, true
		}
	}
	return Record{}, false
}

func TestRingbufferSynthetic(t *testing.T) {
	for _, line := range []string{"6.1", "5.10", "7.3"} {
		t.Run(line, func(t *testing.T) {
			r, seqs := buildRing(t, line)
			r.clearSeq = 2
			l, err := Read(r.fake(nil, nil), r.info())
			if err != nil {
				t.Fatal(err)
			}
			if l.Source != SourceRingbuffer || l.Size != 2048 || l.DescCount != 32 {
				t.Errorf("Source/Size/DescCount = %q %d %d", l.Source, l.Size, l.DescCount)
			}
			if l.NextSeq != seqs["reserved"]+1 {
				t.Errorf("NextSeq = %d, want %d", l.NextSeq, seqs["reserved"]+1)
			}
			if l.ClearSeq != 2 {
				t.Errorf("ClearSeq = %d", l.ClearSeq)
			}
			// The oldest records were pushed out of the data ring.
			if _, ok := recordBySeq(l, seqs["version"]); ok {
				t.Errorf("record 0 should have been overwritten")
			}
			if l.FirstSeq == 0 || l.Records[0].Seq != l.FirstSeq || l.Dropped != l.FirstSeq-2 {
				t.Errorf("FirstSeq %d, Records[0].Seq %d, Dropped %d", l.FirstSeq, l.Records[0].Seq, l.Dropped)
			}
			// Every seq from FirstSeq to NextSeq-1 is a record or in a gap.
			want := map[uint64]bool{}
			for s := l.FirstSeq; s < l.NextSeq; s++ {
				want[s] = true
			}
			for i, rec := range l.Records {
				if i > 0 && rec.Seq <= l.Records[i-1].Seq {
					t.Errorf("records out of order at %d", i)
				}
				delete(want, rec.Seq)
			}
			for _, g := range l.Gaps {
				for s := g.FirstSeq; s <= g.LastSeq; s++ {
					delete(want, s)
				}
			}
			if len(want) != 0 {
				t.Errorf("seqs neither read nor in a gap: %v", want)
			}
			wantGaps := []Gap{
				{seqs["failed"], seqs["failed"], "no text stored (data-less record)", 0},
				{seqs["reserved"], seqs["reserved"], "descriptor reserved: record being written", tDescs + (seqs["reserved"]&31)*24},
			}
			if !reflect.DeepEqual(l.Gaps, wantGaps) {
				t.Errorf("Gaps = %+v\nwant %+v", l.Gaps, wantGaps)
			}
			check := func(name, text string, level int, flags uint8) Record {
				t.Helper()
				rec, ok := recordBySeq(l, seqs[name])
				if !ok {
					t.Fatalf("%s (seq %d) missing", name, seqs[name])
				}
				if rec.Text != text || rec.Level != level || rec.Flags != flags {
					t.Errorf("%s = %q level %d flags %d, want %q %d %d", name, rec.Text, rec.Level, rec.Flags, text, level, flags)
				}
				return rec
			}
			w := check("wrapped", filler(int(seqs["wrapped"]-1), 150), 6, LogNewline)
			if w.Caller != "T1" || w.CallerID != 1 {
				t.Errorf("caller %q %d", w.Caller, w.CallerID)
			}
			check("multi", "line one\nline two\n  line three", 4, LogNewline)
			c1 := check("cont1", "cont start", 6, 0)
			c2 := check("cont2", " and more", 6, LogCont|LogNewline)
			if c1.Cont || !c2.Cont || c2.Caller != "C1" {
				t.Errorf("cont: %+v %+v", c1, c2)
			}
			d := check("dev", "virtio_net virtio1 enp0s2: renamed from eth0", 6, LogNewline)
			if d.Subsystem != "virtio" || d.Device != "+virtio:virtio1" {
				t.Errorf("dev_info = %q %q", d.Subsystem, d.Device)
			}
			check("empty", "", 6, 0)
			p := check("panic", "Kernel panic - not syncing: sysrq triggered crash", 0, LogNewline)
			if p.Caller != "T117" {
				t.Errorf("panic caller %q", p.Caller)
			}
			rec, msg, ok := l.PanicMessage()
			if !ok || msg != "sysrq triggered crash" || rec.Seq != seqs["panic"] {
				t.Errorf("PanicMessage = %v %q %v", rec.Seq, msg, ok)
			}

			// Lines: the multi-line record prints as three lines with one
			// timestamp.
			lines := l.Lines()
			var got []string
			for _, ln := range lines {
				if ln.Seq == seqs["multi"] {
					got = append(got, fmt.Sprintf("%v|%s", ln.IsContinuation, ln.String()))
				}
			}
			m, _ := recordBySeq(l, seqs["multi"])
			ts := FormatTimestamp(m.TimestampNS)
			wantLines := []string{"false|" + ts + " line one", "true|" + ts + " line two", "true|" + ts + "   line three"}
			if !reflect.DeepEqual(got, wantLines) {
				t.Errorf("multi lines = %q\nwant %q", got, wantLines)
			}
			if len(lines) != len(l.Records)+2 {
				t.Errorf("%d lines for %d records", len(lines), len(l.Records))
			}
			if last := lines[len(lines)-1]; last.Text != "---[ end Kernel panic - not syncing: sysrq triggered crash ]---" || last.Caller != "T117" {
				t.Errorf("last line %+v", last)
			}
		})
	}
}

// The newest record committed but not yet finalized (desc_make_final() runs
// on the next reservation) is shown, as crash shows it.
func TestRingbufferCommittedHead(t *testing.T) {
	r := newTestRing(4, 10)
	r.add(tRec{text: "first", flags: LogNewline})
	r.add(tRec{text: "open line", setState: true, state: descCommitted})
	l, err := Read(r.fake(nil, nil), r.info())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Records) != 2 || l.Records[1].Text != "open line" || len(l.Gaps) != 0 ||
		l.FirstSeq != 0 || l.NextSeq != 2 || l.Dropped != 0 {
		t.Fatalf("got %+v", l)
	}
}

func TestRingbufferEmpty(t *testing.T) {
	r := newTestRing(4, 10)
	l, err := Read(r.fake(nil, nil), r.info())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Records) != 0 || len(l.Gaps) != 0 || l.NextSeq != 0 || l.FirstSeq != 0 || l.Dropped != 0 {
		t.Fatalf("empty ring: %+v", l)
	}
}

// The descriptor ring wraps too: the tail is pushed and old descriptors are
// recycled with seq += count.
func TestRingbufferDescWrap(t *testing.T) {
	r := newTestRing(3, 12) // 8 descriptors, 4 KiB text
	for i := 0; i < 30; i++ {
		r.add(tRec{text: fmt.Sprintf("msg %d", i), flags: LogNewline, ts: uint64(i) * 1e9})
	}
	l, err := Read(r.fake(nil, nil), r.info())
	if err != nil {
		t.Fatal(err)
	}
	// desc_reserve() pushes the tail when the new id takes its slot: all 8
	// descriptors hold records.
	if len(l.Records) != 8 || l.FirstSeq != 22 || l.NextSeq != 30 || l.Dropped != 22 || len(l.Gaps) != 0 {
		t.Fatalf("got %d records, first %d next %d dropped %d gaps %v", len(l.Records), l.FirstSeq, l.NextSeq, l.Dropped, l.Gaps)
	}
	for i, rec := range l.Records {
		if want := fmt.Sprintf("msg %d", 22+i); rec.Text != want || rec.Seq != uint64(22+i) {
			t.Errorf("record %d = %d %q", i, rec.Seq, rec.Text)
		}
	}
}

func TestRingbufferMissingPages(t *testing.T) {
	// 8 KiB of text (2 pages), 256 descriptors (6 KiB: 2 pages).
	r := newTestRing(8, 13)
	for i := 0; i < 100; i++ {
		r.add(tRec{text: filler(i, 90), flags: LogNewline})
	}
	t.Run("data page", func(t *testing.T) {
		full, err := Read(r.fake(nil, nil), r.info())
		if err != nil {
			t.Fatal(err)
		}
		var lost []uint64
		for _, rec := range full.Records {
			if lo, hi := r.blockPages(rec.Seq); lo <= 1 && hi >= 1 {
				lost = append(lost, rec.Seq)
			}
		}
		if len(lost) == 0 || len(lost) == len(full.Records) {
			t.Fatalf("bad test setup: %d of %d records on page 1", len(lost), len(full.Records))
		}
		l, err := Read(r.fake([]int{1}, nil), r.info())
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Records)+len(lost) != len(full.Records) {
			t.Errorf("%d records + %d lost != %d", len(l.Records), len(lost), len(full.Records))
		}
		want := []Gap{{lost[0], lost[len(lost)-1], "text not in dump", tData + 4096}}
		if !reflect.DeepEqual(l.Gaps, want) {
			t.Errorf("gaps %+v, want %+v", l.Gaps, want)
		}
		for _, rec := range l.Records {
			if rec.Text != filler(int(rec.Seq), 90) {
				t.Errorf("record %d = %q", rec.Seq, rec.Text)
			}
		}
	})
	t.Run("desc page", func(t *testing.T) {
		l, err := Read(r.fake(nil, []int{0}), r.info())
		if err != nil {
			t.Fatal(err)
		}
		// Page 0 holds descriptors 0..170 (4096/24), so every descriptor
		// from tail to head (seqs 0..99) is unreadable: one gap, found
		// with one failed read (the page is skipped whole).
		if len(l.Records) != 0 || len(l.Gaps) != 1 || l.Gaps[0].FirstSeq != 0 || l.Gaps[0].LastSeq != 99 ||
			l.Gaps[0].Reason != "descriptor not in dump" || l.Gaps[0].Addr != tDescs {
			t.Errorf("gaps %+v, %d records", l.Gaps, len(l.Records))
		}
	})
}

func TestRingbufferHostile(t *testing.T) {
	r, _ := buildRing(t, "6.1")
	info := r.info()
	mutate := func(f func(rb []byte)) *vmem.Fake {
		fk := &vmem.Fake{}
		fk.Map(tPrbSym, binary.LittleEndian.AppendUint64(nil, tRB))
		rb := r.rbStruct()
		f(rb)
		fk.Map(tRB, rb)
		fk.Map(tDescs, r.descs)
		fk.Map(tInfos, r.infos)
		fk.Map(tData, r.data)
		return fk
	}
	for name, f := range map[string]func([]byte){
		"count_bits 31": func(rb []byte) { rb[0] = 31 },
		"size_bits 40":  func(rb []byte) { rb[48] = 40 },
		"size_bits 0":   func(rb []byte) { rb[48] = 0 },
	} {
		if _, err := Read(mutate(f), info); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Huge but bounded rings over unmapped memory: gaps, quickly.
	l, err := Read(mutate(func(rb []byte) {
		rb[0] = 30
		binary.LittleEndian.PutUint64(rb[8:], 0x10000)
		binary.LittleEndian.PutUint64(rb[16:], 0x100000000)
		binary.LittleEndian.PutUint64(rb[24:], 1<<40)
		binary.LittleEndian.PutUint64(rb[32:], 0)
	}), info)
	if err != nil || len(l.Records) != 0 || len(l.Gaps) == 0 {
		t.Errorf("huge ring: %v %+v", err, l)
	}
	// No prb pointer in memory.
	if _, err := Read(&vmem.Fake{}, info); !vmem.IsFault(err) {
		t.Errorf("unmapped prb: %v", err)
	}
	// A VMCOREINFO without the ringbuffer offsets.
	bad, _ := vmcoreinfo.Parse([]byte(strings.Replace(r.vmcoreinfo(), "OFFSET(prb_desc.state_var)=0\n", "", 1)))
	if _, err := Read(r.fake(nil, nil), bad); err == nil || !strings.Contains(err.Error(), "OFFSET(prb_desc.state_var)") {
		t.Errorf("missing offset: %v", err)
	}
	none, _ := vmcoreinfo.Parse([]byte("OSRELEASE=6.1\n"))
	if _, err := Read(r.fake(nil, nil), none); !errors.Is(err, ErrNoLog) {
		t.Errorf("no symbols: %v", err)
	}
}

func TestTextBlock(t *testing.T) {
	const bits = 10 // 1 KiB ring
	for _, c := range []struct {
		begin, next uint64
		kind        int
		off, size   uint64
	}{
		{0, 16, blkData, 0, 16},
		{1024 + 512, 1024 + 600, blkData, 512, 88},
		{1024 + 1000, 2048 + 40, blkData, 0, 40}, // wrapped: data at index 0
		{^uint64(1023), ^uint64(1023) + 24, blkData, 0, 24},
		{1024 - 8, 1024 + 32, blkData, 0, 32}, // ends exactly at the wrap
		{1024 - 16, 1024, blkData, 1008, 16},  // 7.x: ends at the end of the ring, kept there
		{2048 - 128, 2048, blkData, 896, 128},
		{noLpos, noLpos, blkEmpty, 0, 0},
		{failedLpos, failedLpos, blkFailed, 0, 0},
		{16, 16, blkIllegal, 0, 0},
		{16, 20, blkIllegal, 0, 0},       // misaligned
		{16, 4096, blkIllegal, 0, 0},     // two wraps ahead
		{1024 + 8, 16, blkIllegal, 0, 0}, // backwards
		{1024 + 8, 2048 + 4, blkIllegal, 0, 0},
		{1, 16, blkIllegal, 0, 0},
	} {
		kind, off, size := textBlock(c.begin, c.next, bits, 8)
		if kind != c.kind || off != c.off || size != c.size {
			t.Errorf("textBlock(%#x, %#x) = %d %d %d, want %d %d %d", c.begin, c.next, kind, off, size, c.kind, c.off, c.size)
		}
	}
}

func TestLegacy(t *testing.T) {
	lb := newLegacyBuf(512, true)
	var texts []string
	for i := 0; i < 20; i++ {
		text := fmt.Sprintf("legacy message number %d", i)
		dict := ""
		if i == 17 {
			dict = "SUBSYSTEM=pci\x00DEVICE=+pci:0000:00:01.0"
		}
		if i == 18 {
			text = "two\nlines"
		}
		lb.add(text, dict, uint64(i)*1500000000, i%8, LogNewline, uint32(100+i))
		texts = append(texts, text)
	}
	if lb.nextIdx >= lb.firstIdx {
		t.Fatalf("bad test setup: log_buf did not wrap (first %d next %d)", lb.firstIdx, lb.nextIdx)
	}
	mem, info := lb.fake()
	l, err := Read(mem, info)
	if err != nil {
		t.Fatal(err)
	}
	if l.Source != SourceLegacy || l.Size != 512 || len(l.Gaps) != 0 {
		t.Errorf("source %q size %d gaps %v", l.Source, l.Size, l.Gaps)
	}
	n := int(lb.nextSeq - lb.firstSeq)
	if len(l.Records) != n {
		t.Fatalf("%d records, want %d", len(l.Records), n)
	}
	for i, rec := range l.Records {
		j := int(lb.firstSeq) + i
		if rec.Text != texts[j] || rec.TimestampNS != uint64(j)*1500000000 || rec.Level != j%8 ||
			rec.Caller != fmt.Sprintf("T%d", 100+j) || rec.Seq != uint64(i) {
			t.Errorf("record %d = %+v", i, rec)
		}
		if j == 17 && (rec.Subsystem != "pci" || rec.Device != "+pci:0000:00:01.0") {
			t.Errorf("dict: %q %q", rec.Subsystem, rec.Device)
		}
	}
	lines := l.Lines()
	if len(lines) != n+1 || lines[len(lines)-1].String() != "[   28.500000] legacy message number 19" ||
		lines[len(lines)-2].String() != "[   27.000000] lines" || !lines[len(lines)-2].IsContinuation {
		t.Errorf("lines: %v", lines[len(lines)-3:])
	}

	// Without CONFIG_PRINTK_CALLER the header is 16 bytes.
	lb = newLegacyBuf(256, false)
	lb.add("a", "", 1, 6, LogNewline, 0)
	lb.add("b", "", 2, 6, LogNewline, 0)
	mem, info = lb.fake()
	l, err = Read(mem, info)
	if err != nil || len(l.Records) != 2 || l.Records[1].Text != "b" || l.Records[1].Caller != "" {
		t.Errorf("no caller: %v %+v", err, l)
	}

	// A corrupt len stops the walk with a gap.
	binary.LittleEndian.PutUint16(lb.buf[lb.hdr+4+8:], 3)
	mem, info = lb.fake()
	l, err = Read(mem, info)
	if err != nil || len(l.Records) != 1 || len(l.Gaps) != 1 {
		t.Errorf("corrupt: %v %+v", err, l)
	}
}

func TestFormatTimestamp(t *testing.T) {
	for ns, want := range map[uint64]string{
		0:                  "[    0.000000]",
		1835687123:         "[    1.835687]",
		123456789000999999: "[123456789.000999]",
	} {
		if got := FormatTimestamp(ns); got != want {
			t.Errorf("FormatTimestamp(%d) = %q, want %q", ns, got, want)
		}
	}
}

func TestPanicMessage(t *testing.T) {
	l := &Log{Records: []Record{
		{Seq: 1, Text: "Kernel panic - not syncing: first\n"},
		{Seq: 2, Text: "Kernel panic - not syncing: Fatal exception"},
		{Seq: 3, Text: "---[ end Kernel panic - not syncing: Fatal exception ]---"},
	}}
	if rec, msg, ok := l.PanicMessage(); !ok || msg != "Fatal exception" || rec.Seq != 2 {
		t.Errorf("got %d %q %v", rec.Seq, msg, ok)
	}
	l.Records = l.Records[2:]
	if rec, msg, ok := l.PanicMessage(); !ok || msg != "Fatal exception" || rec.Seq != 3 {
		t.Errorf("end marker: %d %q %v", rec.Seq, msg, ok)
	}
	l.Records = nil
	if _, _, ok := l.PanicMessage(); ok {
		t.Error("empty log has a panic")
	}
}
