// Package b64canon decodes base64 from untrusted input only in its
// canonical form: the one string that encoding the decoded bytes prints.
//
// Go's base64 decoders skip '\r' and '\n' anywhere in the input (even a
// Strict encoding does), and a non-strict encoding ignores non-zero
// padding bits, so several strings decode to the same bytes. Where a
// decoded value is a signature, a credential or a stored hash, that makes
// the value malleable (one cookie, many accepted spellings) and breaks
// round trips. Decode refuses every spelling but the canonical one.
package b64canon

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrNotCanonical is wrapped by Decode's error for input that decodes but
// is not what encoding its bytes prints.
var ErrNotCanonical = errors.New("base64 is not in canonical form")

// Decode decodes s with enc and refuses it unless enc encodes the result
// back to s byte for byte: no line breaks, no non-zero padding bits, and
// padding exactly as enc writes it.
func Decode(enc *base64.Encoding, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: line break", ErrNotCanonical)
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if enc.EncodeToString(b) != s {
		return nil, fmt.Errorf("%w: non-zero padding bits", ErrNotCanonical)
	}
	return b, nil
}
