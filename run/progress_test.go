package run

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLog(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false, "train", 1000)
	clockAt := p.start
	p.now = func() time.Time { return clockAt }
	for i := 1; i <= 1000; i++ {
		clockAt = clockAt.Add(100 * time.Millisecond)
		p.Update(i, "loss 0.1")
	}
	p.Done("acc 99%")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d lines for 1000 steps, want 10 and a final one:\n%s", len(lines), b.String())
	}
	if want := "train  50%  500/1000  elapsed 0:50  ETA 0:50  loss 0.1"; lines[4] != want {
		t.Errorf("line 5 = %q, want %q", lines[4], want)
	}
	if want := "train done in 1:40  acc 99%"; lines[10] != want {
		t.Errorf("last line = %q, want %q", lines[10], want)
	}
}

func TestProgressLive(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true, "bench", 4)
	p.cols = 100
	clockAt := p.start
	p.now = func() time.Time { return clockAt }
	for i := 1; i <= 4; i++ {
		clockAt = clockAt.Add(time.Second)
		p.Update(i, "")
	}
	p.Done("")
	out := b.String()
	if strings.Count(out, "\n") != 1 || strings.Count(out, "\r") != 5 || !strings.Contains(out, "[==========          ]  50% 2/4") {
		t.Fatalf("live output %q: want in-place redraws with a bar and one final newline", out)
	}
}

func TestProgressNil(t *testing.T) {
	var p *Progress
	p.Update(1, "")
	p.Done("")
	NewProgress(nil, true, "x", 3).Update(1, "")
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00", 61 * time.Second: "1:01", 3725 * time.Second: "1:02:05"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

// On a narrow terminal the bar goes first, then the line is cut, so that it
// never wraps (a wrapped line cannot be redrawn in place).
func TestProgressNarrowTerminal(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true, "train", 4000)
	p.cols = 60
	p.Update(4000, "epoch 1/1  loss 0.1234  acc 98.00%")
	for _, line := range strings.Split(b.String(), "\r") {
		if len(line) >= 60 || strings.Contains(line, "[") {
			t.Fatalf("line %q on a 60-column terminal", line)
		}
	}
}

// A resumed run's ETA comes from the steps it ran itself, and its log
// starts at the first tenth past the steps done before.
func TestProgressResumed(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false, "train", 1000)
	p.Resumed(400)
	clockAt := p.start
	p.now = func() time.Time { return clockAt }
	for i := 401; i <= 1000; i++ {
		clockAt = clockAt.Add(100 * time.Millisecond)
		p.Update(i, "")
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines for the last 600 of 1000 steps, want 6:\n%s", len(lines), b.String())
	}
	if want := "train  50%  500/1000  elapsed 0:10  ETA 0:50"; lines[0] != want {
		t.Errorf("first line = %q, want %q", lines[0], want)
	}
}
