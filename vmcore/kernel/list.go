package kernel

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// DefaultMaxList bounds a list walk when the caller passes max <= 0.
const DefaultMaxList = 100000

// ErrStop, returned by a walk callback, ends the walk without error.
var ErrStop = errors.New("stop walk")

// Reasons a list walk breaks.
const (
	ListCycle      = "cycle"      // a node came round again without passing the head
	ListTooLong    = "too long"   // more than max nodes
	ListFault      = "fault"      // a node could not be read (Err is the *vmem.FaultError)
	ListNull       = "null"       // a next pointer was NULL
	ListPoison     = "poison"     // a next pointer was LIST_POISON1/2 (a deleted entry)
	ListMisaligned = "misaligned" // a next pointer was not pointer-aligned
)

// ListError says where and why a list walk broke. At is the offending node
// address (the revisited node, the unreadable node, the NULL or poison value,
// or the first node past max); From is the node whose next pointer led there
// (the head for the first node).
type ListError struct {
	Head   uint64
	At     uint64
	From   uint64
	Count  int // nodes handed to the callback before the break
	Reason string
	Err    error
}

func (e *ListError) Error() string {
	s := fmt.Sprintf("list %#x broken after %d nodes: %s at %#x (from %#x)", e.Head, e.Count, e.Reason, e.At, e.From)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ListError) Unwrap() error { return e.Err }

// poisoned reports LIST_POISON1/2 (include/linux/poison.h: 0x100 / 0x122 +
// POISON_POINTER_DELTA, 0xdead000000000000 on x86_64) and nearby values.
func poisoned(p uint64) bool { return p>>48 == 0xdead }

// ListForEach walks the struct list_head ring at head (list_for_each,
// include/linux/list.h): fn gets each node's list_head address, not the
// head's. Each node's next pointer is read before fn sees it, so fn only gets
// readable nodes. The walk stops at head; a NULL or poisoned pointer, an
// unreadable node, a node seen twice (a cycle that does not pass the head)
// or more than max nodes give a *ListError. An error from fn ends the walk
// and is returned (ErrStop: nil).
func (k *Kernel) ListForEach(head uint64, max int, fn func(node uint64) error) error {
	// struct list_head { struct list_head *next, *prev; }: next at 0.
	first, err := vmem.ReadU64(k.Mem, head)
	if err != nil {
		return &ListError{Head: head, At: head, From: head, Reason: ListFault, Err: err}
	}
	return k.walk(head, first, head, 0, head, max, fn)
}

// walk follows next pointers (at node+nextOffset) from node until end,
// with the checks both list kinds share. A NULL before end is a break
// (for a NULL-terminated list end is 0, so NULL ends it).
func (k *Kernel) walk(head, node, end, nextOffset, from uint64, max int, fn func(node uint64) error) error {
	if max <= 0 {
		max = DefaultMaxList
	}
	seen := make(map[uint64]struct{})
	for count := 0; node != end; count++ {
		le := &ListError{Head: head, At: node, From: from, Count: count}
		switch _, dup := seen[node]; {
		case node == 0:
			le.Reason = ListNull
		case poisoned(node):
			le.Reason = ListPoison
		case node%8 != 0:
			// Every kernel list links structs that hold pointers, so
			// nodes are pointer-aligned: a misaligned link is damage.
			le.Reason = ListMisaligned
		case dup:
			le.Reason = ListCycle
		case count >= max:
			le.Reason = ListTooLong
		}
		if le.Reason != "" {
			return le
		}
		seen[node] = struct{}{}
		next, err := vmem.ReadU64(k.Mem, node+nextOffset)
		if err != nil {
			le.Reason, le.Err = ListFault, err
			return le
		}
		if err := fn(node); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		from, node = node, next
	}
	return nil
}

// ListForEachEntry is list_for_each_entry: fn gets each entry of typeName
// whose member (a struct list_head) is linked on head.
func (k *Kernel) ListForEachEntry(head uint64, typeName, member string, max int, fn func(Object) error) error {
	t, err := k.Type(typeName)
	if err != nil {
		return err
	}
	off, err := k.OffsetOf(typeName, member)
	if err != nil {
		return err
	}
	return k.ListForEach(head, max, func(node uint64) error {
		return fn(Object{K: k, Addr: node - off, Type: t})
	})
}

// SListForEach walks a NULL-terminated singly linked list (notifier_block
// chains, hlist): fn gets each node address starting at first, and the next
// node is read at node+nextOffset. Breaks are reported as in ListForEach
// (Head is first).
func (k *Kernel) SListForEach(first, nextOffset uint64, max int, fn func(node uint64) error) error {
	return k.walk(first, first, 0, nextOffset, 0, max, fn)
}

// SListForEachEntry walks a chain of typeName objects linked through the
// pointer member next (e.g. "struct notifier_block", "next"), starting at
// first.
func (k *Kernel) SListForEachEntry(first uint64, typeName, next string, max int, fn func(Object) error) error {
	t, err := k.Type(typeName)
	if err != nil {
		return err
	}
	off, err := k.OffsetOf(typeName, next)
	if err != nil {
		return err
	}
	if _, ok := underlying(mustMemberType(t, next)).(*btf.Pointer); !ok {
		return fmt.Errorf("%s.%s is not a pointer: %w", typeName, next, ErrType)
	}
	return k.SListForEach(first, off, max, func(node uint64) error {
		return fn(Object{K: k, Addr: node, Type: t})
	})
}

// mustMemberType is the type of a member path already checked by OffsetOf.
func mustMemberType(t btf.Type, path string) btf.Type {
	m, err := Object{K: &Kernel{Mem: noMemory{}}, Type: t}.Member(path)
	if err != nil {
		return nil
	}
	return m.Type
}
