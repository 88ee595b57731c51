package quote

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"fc1.weight", `"fc1.weight"`},
		{"x\nebyd: import finished OK\x1b[2J", `"x\nebyd: import finished OK\x1b[2J"`},
		{"\u202eevil", `"\u202eevil"`},
		{"bad\xff", `"bad\xff"`},
	} {
		if got := Name(c.in); got != c.want {
			t.Errorf("Name(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	long := strings.Repeat("é", 150) // 300 bytes
	got := Name(long)
	if !strings.HasSuffix(got, `"…`) || len(got) > MaxName+len(`""…`) {
		t.Errorf("Name of a 300-byte name = %q (%d bytes), want at most %d bytes of it and …", got, len(got), MaxName)
	}
	if strings.ContainsRune(got, '\uFFFD') || strings.Contains(got, `\x`) {
		t.Errorf("Name cut a rune in half: %q", got)
	}
	if got := Names([]string{"a", "b\n"}); got != `"a", "b\n"` {
		t.Errorf("Names = %s", got)
	}
}

func TestLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, 28×28 → ok …", "plain text, 28×28 → ok …"},
		{"a\n\x1b[2Jb", `a\n\x1b[2Jb`},
		{"\r\b\x7f", `\r\b\x7f`},
		{"c1 \u009b csi", `c1 \u009b csi`},
		{"raw \x9b byte", `raw \x9b byte`},
		{"bidi \u202e", `bidi \u202e`},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestValue(t *testing.T) {
	if got := Value("a\x1b"); got != `"a\x1b"` {
		t.Errorf("Value of a string = %s", got)
	}
	if got := Value(int64(1001)); got != "1001" {
		t.Errorf("Value(1001) = %s", got)
	}
	if got := Value([]any{"x\n", 3}); got != `[x\n 3]` {
		t.Errorf("Value of a list = %s", got)
	}
	if got := Value(strings.Repeat("ab", 1000)); len(got) > MaxName+10 {
		t.Errorf("Value of a long string is %d bytes", len(got))
	}
}
