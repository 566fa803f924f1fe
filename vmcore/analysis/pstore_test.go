package analysis

import (
	"encoding/binary"
	"testing"
)

// TestParseRamoopsZoneSmall: a record_size smaller than struct
// persistent_ram_buffer (a hostile oops_cxt) gives no record, not a panic.
func TestParseRamoopsZoneSmall(t *testing.T) {
	for n := 0; n < ramBufferHeader; n++ {
		buf := make([]byte, n)
		if n >= 4 {
			binary.LittleEndian.PutUint32(buf, persistentRAMSig)
		}
		if _, ok := parseRamoopsZone(0x1000, buf); ok {
			t.Errorf("%d-byte zone gave a record", n)
		}
	}
	buf := make([]byte, 64)
	binary.LittleEndian.PutUint32(buf, persistentRAMSig)
	binary.LittleEndian.PutUint32(buf[8:], 5)
	copy(buf[12:], "hello")
	rec, ok := parseRamoopsZone(0x1000, buf)
	if !ok || rec.Text != "hello" {
		t.Fatalf("zone with 5 bytes: %+v %v", rec, ok)
	}
	binary.LittleEndian.PutUint32(buf[8:], 53)
	if _, ok := parseRamoopsZone(0x1000, buf); ok {
		t.Errorf("size past the zone gave a record")
	}
}

// FuzzRamoopsZone: any zone bytes give a record or none, never a panic, and
// the text never exceeds the zone (or the decompression cap).
func FuzzRamoopsZone(f *testing.F) {
	zone := func(s string) []byte {
		b := make([]byte, 12+len(s))
		binary.LittleEndian.PutUint32(b, persistentRAMSig)
		binary.LittleEndian.PutUint32(b[8:], uint32(len(s)))
		copy(b[12:], s)
		return b
	}
	f.Add(zone("====1700000000.000000-D\nPanic#1 Part1\n<0>Kernel panic"))
	f.Add(zone("====1700000000.000000-C\n\x01\x00\x00\xff\xff"))
	f.Add(zone("console text"))
	f.Add([]byte{0x44, 0x42})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, ok := parseRamoopsZone(0, b)
		if ok && len(rec.Text) > max(len(b), maxRecordText) {
			t.Fatalf("text of %d bytes from a %d-byte zone", len(rec.Text), len(b))
		}
	})
}
