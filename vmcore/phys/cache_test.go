package phys

import (
	"errors"
	"fmt"
	"testing"
)

func TestPageCacheEvictsLeastRecent(t *testing.T) {
	c := NewPageCache(2)
	c.Put(1, []byte{1})
	c.Put(2, []byte{2})
	if _, ok := c.Get(1); !ok { // 1 becomes most recent
		t.Fatal("page 1 missing")
	}
	c.Put(3, []byte{3}) // evicts 2
	if _, ok := c.Get(2); ok {
		t.Fatal("page 2 should have been evicted")
	}
	if d, ok := c.Get(1); !ok || d[0] != 1 {
		t.Fatal("page 1 lost")
	}
	if c.Len() != 2 {
		t.Fatalf("len = %d, want 2", c.Len())
	}
}

func TestMissingErrorWrapped(t *testing.T) {
	err := fmt.Errorf("reading task: %w", &MissingError{Addr: 0x1000, Reason: Excluded})
	if !IsMissing(err) {
		t.Fatal("IsMissing lost the wrapped error")
	}
	var me *MissingError
	if !errors.As(err, &me) || me.Addr != 0x1000 {
		t.Fatal("errors.As failed")
	}
	if IsMissing(errors.New("other")) {
		t.Fatal("plain error reported as missing")
	}
}
