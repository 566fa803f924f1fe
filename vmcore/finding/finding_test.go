package finding

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

type causeError struct{ addr uint64 }

func (e *causeError) Error() string { return fmt.Sprintf("page %#x not in dump", e.addr) }

func TestProblemWrapsItsCause(t *testing.T) {
	cause := &causeError{0x1000}
	p := Newf(Unreadable, About(AreaChain, "panic_notifier_list"), "walk stopped: %w", cause)
	var got *causeError
	if !errors.As(p, &got) || got.addr != 0x1000 {
		t.Fatalf("errors.As through Problem: %v", got)
	}
	if want := "chain panic_notifier_list: walk stopped: page 0x1000 not in dump"; p.Message() != want {
		t.Errorf("Message = %q, want %q", p.Message(), want)
	}
	if KindOf(fmt.Errorf("outer: %w", p), Damaged) != Unreadable {
		t.Error("KindOf does not find a wrapped Problem's kind")
	}
	if KindOf(cause, Damaged, func(err error) bool { return errors.As(err, new(*causeError)) }) != Unreadable {
		t.Error("KindOf ignores the fault classifier")
	}
	if KindOf(errors.New("x"), Damaged) != Damaged {
		t.Error("KindOf does not fall back")
	}
}

func TestProblemJSONRoundTrip(t *testing.T) {
	l := List{Newf(NoSource, About(AreaCPU, "1"), "no registers"), Newf(Limit, About(AreaLog), "too long")}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	const want = `[{"kind":"no-source","subject":"cpu 1","message":"no registers"},{"kind":"limit","subject":"log","message":"too long"}]`
	if string(b) != want {
		t.Fatalf("JSON = %s\nwant   %s", b, want)
	}
	var back List
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[0].Subject != About(AreaCPU, "1") || back[1].Message() != "log: too long" {
		t.Errorf("round trip: %+v", back)
	}
	if n := len(back.About(AreaCPU)); n != 1 {
		t.Errorf("About(cpu) = %d problems", n)
	}
}
