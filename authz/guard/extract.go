package guard

import (
	"net/http"
	"net/url"
	"strings"
)

// MaxTokenSize bounds a bearer token: anything longer is refused before it
// is parsed or hashed.
const MaxTokenSize = 8 << 10

// Errors of ExtractToken, copied from the sentinels once.
var (
	errMultipleHeaders = ErrInvalidRequest.WithDescription("malformed", "multiple Authorization headers")
	errMalformedHeader = ErrInvalidRequest.WithDescription("malformed", "malformed Authorization header")
	errEmptyBearer     = ErrInvalidRequest.WithDescription("malformed", "empty bearer token")
	errMalformedBearer = ErrInvalidRequest.WithDescription("malformed", "malformed bearer token")
	errMultipleParams  = ErrInvalidRequest.WithDescription("malformed", "multiple access_token parameters")
	errEmptyParam      = ErrInvalidRequest.WithDescription("malformed", "empty access_token parameter")
	errMalformedParam  = ErrInvalidRequest.WithDescription("malformed", "malformed access_token parameter")
	errBothMethods     = ErrInvalidRequest.WithDescription("malformed", "token in both Authorization header and access_token parameter")
	errTooLarge        = ErrInvalidRequest.WithDescription("too_large", "token too large")
	errMalformedToken  = ErrInvalidToken.WithDescription("malformed", "malformed token")
)

// ExtractToken returns the bearer token of r, from the Authorization header
// (RFC 6750 §2.1, scheme case-insensitive) or the access_token query
// parameter (§2.3). Every error is an *Error: 400 invalid_request for a
// malformed, duplicated or oversized token, 401 without an error code when
// there is no bearer token at all, and 401 invalid_token when the token is
// not a compact JWS.
func ExtractToken(r *http.Request) (string, error) {
	var (
		tok      string
		fromHdr  bool
		hdrErr   error
		fromQry  bool
		queryErr error
	)
	switch hs := r.Header["Authorization"]; len(hs) {
	case 0:
	case 1:
		tok, fromHdr, hdrErr = bearerFromHeader(hs[0])
	default:
		return "", errMultipleHeaders
	}
	var q string
	if r.URL != nil && r.URL.RawQuery != "" {
		q, fromQry, queryErr = tokenFromQuery(r.URL.RawQuery)
	}
	switch {
	case fromHdr && fromQry:
		return "", errBothMethods
	case hdrErr != nil:
		return "", hdrErr
	case queryErr != nil:
		return "", queryErr
	case fromQry:
		tok = q
	case !fromHdr:
		return "", ErrMissingToken
	}
	return tok, nil
}

// bearerFromHeader parses one Authorization value. isBearer reports that
// the value uses the Bearer scheme (even when it is malformed), so that a
// second token in the query is recognised as "both"; a foreign scheme such
// as Basic is neither a token nor an error.
func bearerFromHeader(v string) (tok string, isBearer bool, err error) {
	v = strings.TrimLeft(v, " \t")
	if v == "" {
		return "", true, errMalformedHeader
	}
	end := 0
	for end < len(v) && isTchar(v[end]) {
		end++
	}
	if !strings.EqualFold(v[:end], "Bearer") {
		if end == 0 {
			return "", true, errMalformedHeader
		}
		return "", false, nil
	}
	rest := v[end:]
	if rest == "" {
		return "", true, errEmptyBearer
	}
	if rest[0] != ' ' {
		// "Bearer\tx", "Bearer,x": the scheme is ours but the separator is not 1*SP.
		return "", true, errMalformedHeader
	}
	rest = strings.TrimLeft(rest, " ")
	rest = strings.TrimRight(rest, " \t")
	if rest == "" {
		return "", true, errEmptyBearer
	}
	if len(rest) > MaxTokenSize {
		return "", true, errTooLarge
	}
	switch classify(rest) {
	case badToken:
		return "", true, errMalformedBearer
	case b64token:
		return "", true, errMalformedToken
	}
	return rest, true, nil
}

// tokenFromQuery scans a raw query for access_token without building a
// url.Values. Only values that contain escapes are decoded.
func tokenFromQuery(raw string) (tok string, found bool, err error) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		key, val, _ := strings.Cut(part, "=")
		if key != "access_token" {
			if !strings.ContainsAny(key, "%+") {
				continue
			}
			k, kerr := url.QueryUnescape(key)
			if kerr != nil || k != "access_token" {
				continue
			}
		}
		if found {
			return "", true, errMultipleParams
		}
		found = true
		if strings.ContainsAny(val, "%+") {
			v, verr := url.QueryUnescape(val)
			if verr != nil {
				err = errMalformedParam
				continue
			}
			val = v
		}
		switch {
		case err != nil:
		case val == "":
			err = errEmptyParam
		case len(val) > MaxTokenSize:
			err = errTooLarge
		default:
			switch classify(val) {
			case badToken:
				err = errMalformedParam
			case b64token:
				err = errMalformedToken
			}
			tok = val
		}
	}
	if err != nil {
		return "", found, err
	}
	return tok, found, nil
}

// checkCompact accepts exactly three non-empty base64url segments (the
// compact JWS serialization); JSON serializations and JWE never reach jwx.
func checkCompact(tok string) error {
	if len(tok) > MaxTokenSize {
		return errTooLarge
	}
	if classify(tok) != compactJWS {
		return errMalformedToken
	}
	return nil
}

// Token shapes, from the most to the least acceptable.
const (
	compactJWS = iota // three non-empty base64url segments
	b64token          // RFC 6750 b64token, but not a compact JWS
	badToken          // not even a b64token
)

// asciiClass classifies bytes for token scanning: '2' base64url, '1' the
// dot, '3' the other b64token characters (~ + /), '0' anything else
// (every byte from 0x80 too). A constant string of 256, so the scan is one
// indexed load per byte without a bounds check, and no table lives in
// mutable memory. TestASCIIClass checks it against the RFCs.
const asciiClass = "" +
	"00000000000000000000000000000000" + // 0x00-0x1f
	"00000000000302132222222222000000" + // 0x20-0x3f
	"02222222222222222222222222200002" + // 0x40-0x5f
	"02222222222222222222222222200030" + // 0x60-0x7f
	"00000000000000000000000000000000" + // 0x80-0x9f
	"00000000000000000000000000000000" + // 0xa0-0xbf
	"00000000000000000000000000000000" + // 0xc0-0xdf
	"00000000000000000000000000000000" //   0xe0-0xff

// classify scans s once and says which shape it has. A token is almost
// all base64url: each run of it is skipped by a loop that only compares.
func classify(s string) int {
	shape := compactJWS
	dots, seg := 0, 0
	i := 0
scan:
	for i < len(s) {
		j := i
		for j < len(s) && asciiClass[s[j]] == '2' {
			j++
		}
		seg += j - i
		if i = j; i == len(s) {
			break
		}
		switch asciiClass[s[i]] {
		case '1':
			if seg == 0 {
				shape = b64token
			}
			dots++
			seg = 0
		case '3':
			shape = b64token
		default:
			break scan
		}
		i++
	}
	if i == 0 {
		return badToken
	}
	if i < len(s) {
		// only trailing "=" padding may follow
		for ; i < len(s); i++ {
			if s[i] != '=' {
				return badToken
			}
		}
		return b64token
	}
	if shape != compactJWS || dots != 2 || seg == 0 {
		return b64token
	}
	return compactJWS
}

// isB64token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64token(s string) bool { return classify(s) != badToken }

// isTchar reports RFC 9110 token characters (auth-scheme).
func isTchar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
