package readmetest

import (
	"reflect"
	"strings"
	"testing"
)

const sample = "# Title\n" +
	"\n" +
	"```text\n" +
	"```sh\n" + // inside another block: not a shell block
	"```\n" +
	"\n" +
	"<!-- not run: needs docker -->\n" +
	"```sh\n" +
	"docker compose up\n" +
	"```\n" +
	"\n" +
	"```sh\n" +
	"# terminal 3 (Ctrl-C stops it)\n" +
	"./clearance serve\n" +
	"```\n" +
	"\n" +
	"- a list item:\n" +
	"  ```sh\n" +
	"  A=1   # a comment\n" +
	"  curl -si x\n" +
	"  # => HTTP/1.1 200 OK\n" +
	"  # => {\"a\":...}\n" +
	"  # a comment between\n" +
	"  curl y\n" +
	"  # => 204\n" +
	"  echo tail\n" +
	"  ```\n"

func TestParse(t *testing.T) {
	blocks, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Line: 8, Skip: "needs docker", Terminal: 1, Units: []Unit{{Line: 9, Script: "docker compose up\n"}}},
		{Line: 12, Terminal: 3, Units: []Unit{{Line: 13, Script: "# terminal 3 (Ctrl-C stops it)\n./clearance serve\n"}}},
		{Line: 18, Terminal: 1, Units: []Unit{
			{Line: 19, Script: "A=1   # a comment\ncurl -si x\n", Expect: []string{"HTTP/1.1 200 OK", `{"a":...}`}},
			{Line: 23, Script: "# a comment between\ncurl y\n", Expect: []string{"204"}},
			{Line: 26, Script: "echo tail\n"},
		}},
	}
	if !reflect.DeepEqual(blocks, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", blocks, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, md := range []string{
		"```sh\n# => output before any command\n```\n",
		"```sh\necho never closed\n",
		"<!-- not run: -->\n```sh\necho\n```\n",
	} {
		if _, err := Parse(strings.NewReader(md)); err == nil {
			t.Errorf("Parse(%q): no error", md)
		}
	}
}

func TestMatch(t *testing.T) {
	out := "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer realm=\"clearance\"\r\n\r\n{\"error\":\"unauthorized\",\"error_description\":\"a bearer token is required\"}\n"
	for _, c := range []struct {
		expect  []string
		missing string
	}{
		{[]string{"HTTP/1.1 401 Unauthorized", `Www-Authenticate: Bearer realm="clearance"`}, ""},
		{[]string{`{"error":"unauthorized",...}`}, ""},
		{[]string{"HTTP/1.1 401 ..."}, ""},
		{[]string{"HTTP/1.1 200 OK"}, "HTTP/1.1 200 OK"},
		{[]string{"401"}, "401"},                                               // a whole line, not a part of one
		{[]string{"HTTP/1.1 401 ...", "HTTP/1.1 401 ..."}, "HTTP/1.1 401 ..."}, // each line once, in order
		{[]string{`Www-Authenticate: ...`, "HTTP/1.1 401 Unauthorized"}, "HTTP/1.1 401 Unauthorized"},
		{[]string{`{"error":"unauthorized"}`}, `{"error":"unauthorized"}`},
		{[]string{"a.b"}, "a.b"}, // no regexp syntax but "..."
	} {
		missing, ok := Match(c.expect, out)
		if ok != (c.missing == "") || missing != c.missing {
			t.Errorf("Match(%q) = %q, %v; want %q", c.expect, missing, ok, c.missing)
		}
	}
}
