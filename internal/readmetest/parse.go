package readmetest

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Block is one fenced shell block of the README.
type Block struct {
	Line     int    // line of its opening fence, counted from 1
	Skip     string // the reason given by a "not run" marker; "" runs it
	Terminal int    // 1, or N for a block whose first line is "# terminal N"
	Units    []Unit // what runs, split at the expected output
}

// Unit is the shell text between two expectations, and the "# =>" lines
// that follow it.
type Unit struct {
	Line   int      // README line of its first line
	Script string   // shell text, without the block's indentation
	Expect []string // the text of each "# =>" line after it, in order
}

var (
	fenceRE    = regexp.MustCompile("^(\\s*)```\\s*([A-Za-z0-9_-]*)\\s*$")
	notRunRE   = regexp.MustCompile(`^<!--\s*not run:\s*(.*?)\s*-->$`)
	terminalRE = regexp.MustCompile(`^#\s*terminal\s+(\d+)\b`)
	expectRE   = regexp.MustCompile(`^#\s*=>\s?(.*)$`)
)

// shellLangs are the fence info strings of blocks that run.
var shellLangs = map[string]bool{"sh": true, "bash": true, "shell": true}

// Parse reads markdown and returns its shell blocks in order.
func Parse(r io.Reader) ([]Block, error) {
	var (
		blocks   []Block
		cur      *Block
		indent   string
		inOther  bool
		prev     string // the last non-blank line outside a block
		unitLine int
		script   []string
	)
	flush := func(expect string, n int) error {
		hasCode := false
		for _, l := range script {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				hasCode = true
			}
		}
		switch {
		case hasCode:
			u := Unit{Line: unitLine, Script: strings.Join(script, "\n") + "\n"}
			if expect != "" {
				u.Expect = []string{expect}
			}
			cur.Units = append(cur.Units, u)
		case expect == "":
		case len(cur.Units) == 0:
			return fmt.Errorf("line %d: %q follows no command", n, "# => "+expect)
		default:
			last := &cur.Units[len(cur.Units)-1]
			last.Expect = append(last.Expect, expect)
		}
		script, unitLine = nil, 0
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fenceRE.FindStringSubmatch(line)
		switch {
		case inOther:
			if m != nil && m[2] == "" {
				inOther = false
			}
			continue
		case cur == nil && m != nil:
			if !shellLangs[m[2]] {
				inOther, prev = true, ""
				continue
			}
			cur = &Block{Line: n, Terminal: 1}
			if mm := notRunRE.FindStringSubmatch(strings.TrimSpace(prev)); mm != nil {
				cur.Skip = mm[1]
				if cur.Skip == "" {
					return nil, fmt.Errorf("line %d: a not-run marker needs a reason", n-1)
				}
			}
			indent, prev = m[1], ""
			continue
		case cur == nil:
			if strings.TrimSpace(line) != "" {
				prev = line
			}
			continue
		case m != nil && m[2] == "":
			if err := flush("", n); err != nil {
				return nil, err
			}
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		line = strings.TrimPrefix(line, indent)
		if len(cur.Units) == 0 && len(script) == 0 {
			if mm := terminalRE.FindStringSubmatch(line); mm != nil {
				cur.Terminal, _ = strconv.Atoi(mm[1])
			}
		}
		if mm := expectRE.FindStringSubmatch(strings.TrimSpace(line)); mm != nil {
			if err := flush(mm[1], n); err != nil {
				return nil, err
			}
			continue
		}
		if unitLine == 0 {
			unitLine = n
		}
		script = append(script, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: the block is not closed", cur.Line)
	}
	return blocks, nil
}

// Pattern compiles the text of a "# =>" line: the whole line, where "..."
// stands for any run of characters.
func Pattern(text string) *regexp.Regexp {
	parts := strings.Split(text, "...")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// Match checks that each expectation matches a line of output, in order
// (other lines may come between and around them). It returns the first
// expectation that matches no later line, and whether all matched.
func Match(expect []string, output string) (missing string, ok bool) {
	lines := strings.Split(strings.ReplaceAll(output, "\r\n", "\n"), "\n")
	i := 0
	for _, e := range expect {
		re := Pattern(e)
		for i < len(lines) && !re.MatchString(lines[i]) {
			i++
		}
		if i == len(lines) {
			return e, false
		}
		i++
	}
	return "", true
}
