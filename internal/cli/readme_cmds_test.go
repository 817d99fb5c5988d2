package cli

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

// TestReadmeCommandLines checks every "./clearance ..." command in the
// README's shell blocks: it names a command that exists (its --help
// succeeds), and no line pipes into a bare sub-command ("list | show ID"
// pastes as a shell pipe).
func TestReadmeCommandLines(t *testing.T) {
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	subWords := map[string]bool{}
	for _, c := range commands() {
		if _, second, ok := strings.Cut(c.name, " "); ok {
			subWords[second] = true
		}
	}
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	inShell, checked := false, 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			inShell = !inShell && (line == "```sh" || line == "```bash" || line == "```shell")
			continue
		case !inShell:
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		for i, seg := range strings.Split(line, "|") {
			words := strings.Fields(seg)
			if len(words) == 0 {
				continue
			}
			if i > 0 && subWords[words[0]] {
				t.Errorf("README.md:%d: %q pipes into the sub-command %q: one command per line", n, sc.Text(), words[0])
			}
			// The command may follow a variable's capture: X=$(./clearance ...).
			at := -1
			for j, w := range words {
				paren := strings.LastIndexByte(w, '(')
				if j > 0 && paren < 0 {
					continue
				}
				if w = w[paren+1:]; w == "clearance" || w == "./clearance" {
					at = j
					break
				}
			}
			if at < 0 || len(words) < at+2 {
				continue
			}
			words = words[at:]
			args := []string{words[1]}
			if len(words) > 2 && !strings.HasPrefix(words[2], "-") && subWords[words[2]] {
				args = append(args, words[2])
			}
			if code, _, errs := runAt(t, now, append(args, "--help")...); code != 0 {
				t.Errorf("README.md:%d: %q: clearance %s --help: exit %d %s", n, sc.Text(), strings.Join(args, " "), code, errs)
			}
			checked++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no clearance command found in the README's shell blocks")
	}
	t.Logf("%d clearance commands checked", checked)
}
