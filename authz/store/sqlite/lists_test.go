package sqlite

import (
	"encoding/json"
	"slices"
	"testing"
)

// decodeList agrees with json.Unmarshal: same result (nil or empty alike),
// same acceptance.
func FuzzDecodeList(f *testing.F) {
	for _, seed := range []string{
		`[]`,                    // an empty list (not nil)
		`["charts"]`,            // one value
		`["charts","airports"]`, // several
		`["a b","c,d"]`,         // spaces and commas inside values
		`["\u003cx\u003e"]`,     // escapes: encoding/json's path
		`["a\"b"]`,              // an escaped quote
		`null`,                  // no list
		`["a",]`,                // trailing comma: refused
		`["a" ,"b"]`,            // white space: encoding/json's path
		`[1]`,                   // not a string
		"[\"\x01\"]",            // a raw control character: refused
		"[\"\xff\"]",            // invalid UTF-8: replaced
		`["été","日本"]`,          // UTF-8
		`["a"`,                  // cut short
		`[""]`,                  // an empty string
		`["a","b","c","d","e","f"]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var got, want []string
		gotErr := decodeList(src, &got)
		wantErr := json.Unmarshal([]byte(src), &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, encoding/json %v", src, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("%q: %#v, encoding/json %#v", src, got, want)
		}
	})
}

// Lists written by json.Marshal read back whole.
func TestDecodeListRoundTrip(t *testing.T) {
	for _, l := range [][]string{{}, {"charts"}, {"https://app.example/cb", "http://127.0.0.1:8080/x?a=1&b=2"}, {"<script>", `"q"`, "tab\t"}} {
		b, _ := json.Marshal(l)
		var got []string
		if err := decodeList(string(b), &got); err != nil || !slices.Equal(got, l) || got == nil {
			t.Fatalf("%s: %#v, %v", b, got, err)
		}
	}
}
