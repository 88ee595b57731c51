// Package quote makes text read from files and flags safe to print: a
// tensor name, a pickle global or a file name can hold newlines and
// terminal escape sequences that would forge or hide lines of output.
package quote

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxName is the most bytes of a name Name shows; longer names are cut
// there and end in "…".
const MaxName = 200

// Name returns s as a Go string literal (control characters, invalid
// UTF-8 and other unprintable runes escaped), cut to MaxName bytes of s
// with "…" after the closing quote when longer.
func Name(s string) string {
	if len(s) <= MaxName {
		return strconv.Quote(s)
	}
	cut := MaxName
	for cut > 0 && !utf8.RuneStart(s[cut]) { // do not split a rune
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// Value shows a value read from a file: a string as Name does, anything
// else as fmt prints it, cut to MaxName bytes and escaped as by Line.
func Value(v any) string {
	if s, ok := v.(string); ok {
		return Name(s)
	}
	s := fmt.Sprint(v)
	if len(s) > MaxName {
		cut := MaxName
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return Line(s)
}

// Names is Name of each of names, joined by ", ".
func Names(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = Name(n)
	}
	return strings.Join(q, ", ")
}

// Line escapes every rune of s that a terminal could act on: C0 and C1
// controls (ESC, newline, carriage return, backspace...), DEL, invalid
// UTF-8 bytes (0x9b is CSI to some terminals) and other unprintable runes
// such as bidirectional overrides. Escapes are written as in Go ("\x1b",
// "\n", "\u202e"), so printable text, spaces included, is unchanged.
func Line(s string) string {
	clean := true
	for _, r := range s {
		if !printable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&15, 16))
		case printable(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\n', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// printable reports whether r may go to a terminal as it is.
func printable(r rune) bool {
	return r == ' ' || r != utf8.RuneError && unicode.IsPrint(r)
}
