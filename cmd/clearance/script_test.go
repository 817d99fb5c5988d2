package main

import (
	"encoding/json"
	"errors"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary the clearance command when the scripts
// run it ("exec clearance ..."): the real main, in a process of its own.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"clearance": main})
}

// testKEK is a key-encryption key for the scripts (32 zero bytes); a
// script that wants the no-key path sets CLEARANCE_KEY_ENCRYPTION_KEY to
// nothing.
const testKEK = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// TestScripts runs testdata/script/*.txtar, one per command family: each
// writes its own gateway.yaml (an SQLite store in $WORK) and checks exit
// codes, what goes to stdout and to stderr, --json shapes and help texts.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("CLEARANCE_KEY_ENCRYPTION_KEY", testKEK)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
			"jsonkeys": cmdJSONKeys,
			"jsonget":  cmdJSONGet,
		},
	})
}

// cmdExitcode runs "exitcode N command args..." and requires exit code N
// (where "! exec" accepts any failure); stdout and stderr are kept for the
// next stdout and stderr commands.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// jsonValues reads the JSON of src ("stdout", "stderr" or a file) and
// returns the objects src names: SRC is the document, an object;
// SRC[N] the Nth element of an array; SRC[*] every element (at least
// one).
func jsonValues(ts *testscript.TestScript, src string) []map[string]any {
	file, sel, indexed := strings.Cut(src, "[")
	if indexed {
		var ok bool
		if sel, ok = strings.CutSuffix(sel, "]"); !ok {
			ts.Fatalf("%s: want SRC, SRC[N] or SRC[*]", src)
		}
	}
	data := ts.ReadFile(file)
	if !indexed {
		var obj map[string]any
		if err := json.Unmarshal([]byte(data), &obj); err != nil {
			ts.Fatalf("%s is not one JSON object: %v\n%s", file, err, data)
		}
		return []map[string]any{obj}
	}
	var arr []map[string]any
	if err := json.Unmarshal([]byte(data), &arr); err != nil {
		ts.Fatalf("%s is not a JSON array of objects: %v\n%s", file, err, data)
	}
	if sel == "*" {
		if len(arr) == 0 {
			ts.Fatalf("%s is an empty array", file)
		}
		return arr
	}
	i, err := strconv.Atoi(sel)
	if err != nil || i < 0 || i >= len(arr) {
		ts.Fatalf("%s: no element %q among %d", file, sel, len(arr))
	}
	return []map[string]any{arr[i]}
}

// cmdJSONKeys runs "jsonkeys SRC KEY...": the object(s) SRC names have
// exactly these keys, no more and no fewer. With "!", some key differs.
func cmdJSONKeys(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: jsonkeys SRC[[N]|[*]] KEY...")
	}
	want := slices.Sorted(slices.Values(args[1:]))
	for i, obj := range jsonValues(ts, args[0]) {
		got := slices.Sorted(maps.Keys(obj))
		switch same := slices.Equal(got, want); {
		case same && neg:
			ts.Fatalf("%s (object %d) has exactly the keys %q", args[0], i, want)
		case !same && !neg:
			ts.Fatalf("%s (object %d) has the keys %q, want %q", args[0], i, got, want)
		}
	}
}

// cmdJSONGet runs "jsonget SRC KEY VAR": VAR is set to the value of KEY
// in the object SRC names (a string as it is, anything else as JSON).
func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: jsonget SRC[[N]] KEY VAR")
	}
	objs := jsonValues(ts, args[0])
	if len(objs) != 1 {
		ts.Fatalf("jsonget needs one object, %s names %d", args[0], len(objs))
	}
	v, ok := objs[0][args[1]]
	if !ok {
		ts.Fatalf("%s has no key %q", args[0], args[1])
	}
	s, isString := v.(string)
	if !isString {
		b, err := json.Marshal(v)
		ts.Check(err)
		s = string(b)
	}
	ts.Setenv(args[2], s)
}
