package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a config file, at the position of the
// offending YAML node.
type Problem struct {
	File      string
	Line, Col int
	Msg       string
}

// String formats the problem as FILE:LINE:COL: message.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Problems is every problem found in a config file. Load and Parse return
// all of them at once, sorted by position.
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	if len(ps) == 0 {
		return "no problems"
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// FormatProblems renders err for `clearance check`: one FILE:LINE:COL line
// per problem when err holds Problems, else the error text. It ends with a
// newline unless err is nil.
func FormatProblems(err error) string {
	if err == nil {
		return ""
	}
	var ps Problems
	if errors.As(err, &ps) && len(ps) > 0 {
		return ps.Error() + "\n"
	}
	return err.Error() + "\n"
}

// tidy sorts problems by position (stable, so problems at one node keep
// their order), drops exact duplicates, which merge keys can produce, and
// keeps at most maxProblems.
func tidy(ps []Problem) Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	ps = slices.Compact(ps)
	if len(ps) > maxProblems+1 {
		next := ps[maxProblems]
		next.Msg = fmt.Sprintf("too many problems: stopped after %d", maxProblems)
		ps = append(ps[:maxProblems], next)
	}
	return Problems(ps)
}
