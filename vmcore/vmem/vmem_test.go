package vmem

import "testing"

func TestFakeAndHelpers(t *testing.T) {
	var f Fake
	f.Map(0x1000, []byte{1, 0, 0, 0, 0, 0, 0, 0, 'h', 'i', 0})
	f.Map(0x100b, []byte{9})
	v, err := ReadU64(&f, 0x1000)
	if err != nil || v != 1 {
		t.Fatalf("ReadU64 = %d, %v", v, err)
	}
	s, err := ReadCString(&f, 0x1008, 16)
	if err != nil || s != "hi" {
		t.Fatalf("ReadCString = %q, %v", s, err)
	}
	// A read spanning two adjacent regions works; past them it faults.
	buf := make([]byte, 12)
	if err := f.ReadVirt(buf, 0x1000); err != nil {
		t.Fatalf("spanning read: %v", err)
	}
	if err := f.ReadVirt(buf, 0x1001); !IsFault(err) {
		t.Fatalf("read past end: want fault, got %v", err)
	}
}
