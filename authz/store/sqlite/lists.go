package sqlite

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// decodeList decodes a list column: a JSON array of strings, as
// json.Marshal wrote it. The common spelling (strings without escapes,
// control characters or invalid UTF-8) is split directly, about ten times
// faster than encoding/json; anything else goes to encoding/json. Either
// way the result is what json.Unmarshal gives.
func decodeList(src string, dst *[]string) error {
	body, ok := strings.CutPrefix(src, "[")
	if ok {
		body, ok = strings.CutSuffix(body, "]")
	}
	if !ok || strings.IndexByte(body, '\\') >= 0 || !utf8.ValidString(body) {
		return json.Unmarshal([]byte(src), dst)
	}
	out := make([]string, 0, strings.Count(body, ",")+1)
	for body != "" {
		// "value" then "," or the end.
		if body[0] != '"' {
			return json.Unmarshal([]byte(src), dst)
		}
		end := strings.IndexByte(body[1:], '"')
		if end < 0 {
			return json.Unmarshal([]byte(src), dst)
		}
		v := body[1 : 1+end]
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 {
				return json.Unmarshal([]byte(src), dst)
			}
		}
		out = append(out, v)
		body = body[end+2:]
		if body == "" {
			break
		}
		if body[0] != ',' || len(body) == 1 {
			return json.Unmarshal([]byte(src), dst)
		}
		body = body[1:]
	}
	*dst = out
	return nil
}
