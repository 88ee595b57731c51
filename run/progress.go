package run

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress reports the advance of a long loop (steps done of a total, time
// elapsed, estimated time left, and a status such as the current loss) to a
// writer, usually standard error.
//
// On a terminal (live) it redraws one line in place a few times a second;
// elsewhere (logs, CI) it prints a line at every tenth of the way, so logs
// stay short. A nil *Progress, or one with a nil writer, reports nothing.
type Progress struct {
	w     io.Writer
	live  bool
	label string
	total int
	base  int // steps done before start (a resumed run): the ETA counts only the later ones
	start time.Time
	now   func() time.Time

	last     time.Time // last redraw (live)
	next     int       // step count of the next printed line (not live)
	drawn    int       // length of the line on screen (live)
	cols     int       // terminal width (live); longer lines are cut so they do not wrap
	noBar    bool      // the terminal is too narrow for a bar
	finished bool
}

// NewProgress starts reporting a loop of total steps.
func NewProgress(w io.Writer, live bool, label string, total int) *Progress {
	p := &Progress{w: w, live: live, label: label, total: max(total, 1), now: time.Now}
	p.start = p.now()
	p.next = p.stride()
	return p
}

// progress starts a report to where opts say.
func (o Options) progress(label string, total int) *Progress {
	p := NewProgress(o.Progress, o.Live, label, total)
	p.cols = o.Columns
	return p
}

func (p *Progress) stride() int { return max(1, (p.total+9)/10) }

// Update reports that done steps are complete.
func (p *Progress) Update(done int, status string) {
	if p == nil || p.w == nil || p.finished {
		return
	}
	t := p.now()
	if p.live {
		if done < p.total && t.Sub(p.last) < 100*time.Millisecond {
			return
		}
		p.last = t
		p.redraw(p.line(done, t, status, true))
		return
	}
	if done < p.next {
		return
	}
	for p.next <= done {
		p.next += p.stride()
	}
	fmt.Fprintln(p.w, p.line(done, t, status, false))
}

// Resumed says that done steps were complete before this report started
// (training resumed from a checkpoint): the ETA is estimated from the later
// steps only.
func (p *Progress) Resumed(done int) {
	if p == nil {
		return
	}
	p.base = done
	for p.next <= done {
		p.next += p.stride()
	}
}

// Done ends the report with a final line.
func (p *Progress) Done(status string) {
	if p == nil || p.w == nil || p.finished {
		return
	}
	p.finished = true
	line := fmt.Sprintf("%s done in %s", p.label, clock(p.now().Sub(p.start)))
	if status != "" {
		line += "  " + status
	}
	if p.live {
		p.redraw(line)
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *Progress) redraw(line string) {
	if cols := p.columns(); len(line) >= cols { // lines are ASCII
		line = line[:cols-1]
	}
	pad := ""
	if n := p.drawn - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprint(p.w, "\r"+line+pad)
	p.drawn = len(line)
}

// line formats one report; with bar (live) it includes a progress bar when
// the terminal is wide enough for it next to the status.
func (p *Progress) line(done int, t time.Time, status string, bar bool) string {
	frac := float64(done) / float64(p.total)
	elapsed := t.Sub(p.start)
	eta := "?"
	switch {
	case p.base == 0 && done > 0:
		eta = clock(time.Duration(float64(elapsed) * (1/frac - 1)))
	case p.base > 0 && done > p.base:
		eta = clock(time.Duration(float64(elapsed) * float64(p.total-done) / float64(done-p.base)))
	}
	digits := len(fmt.Sprint(p.total)) // a steady width keeps the line from jittering
	rest := fmt.Sprintf(" %3.0f%% %*d/%d  elapsed %s  ETA %s", 100*frac, digits, done, p.total, clock(elapsed), eta)
	if status != "" {
		rest += "  " + status
	}
	const width = 20
	if bar && len(p.label)+len(rest)+width+3 >= p.columns() {
		p.noBar = true // for good: a bar that comes and goes flickers
	}
	if !bar || p.noBar {
		return p.label + rest
	}
	fill := int(frac * width)
	return p.label + " [" + strings.Repeat("=", fill) + strings.Repeat(" ", width-fill) + "]" + rest
}

func (p *Progress) columns() int {
	if p.cols <= 0 {
		return 80
	}
	return p.cols
}

// clock formats a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
