package issuer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/b64canon"
)

// maxBodyBytes bounds the body of token, revoke and introspect requests.
const maxBodyBytes = 64 << 10

// params are the parameters of a request, each given at most once. Empty
// values count as omitted (RFC 6749 §3.1).
type params struct {
	values map[string]string
	// scopes holds a JSON "scope" array; nil when scope was a string.
	scopes   []string
	scopeArr bool
}

func (p params) get(k string) string { return p.values[k] }

// scope returns the requested scopes and whether any were given.
func (p params) scope() ([]string, bool) {
	if p.scopeArr {
		return p.scopes, len(p.scopes) > 0
	}
	f := strings.Fields(p.values["scope"])
	return f, len(f) > 0
}

// readParams reads a POST body of at most maxBodyBytes and parses it.
func readParams(w http.ResponseWriter, r *http.Request) (params, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return params{}, ErrInvalidRequest.WithDescription("Content-Type is required: application/x-www-form-urlencoded or application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return params{}, ErrInvalidRequest.WithStatus(http.StatusRequestEntityTooLarge).
				WithDescription("request body is larger than 64 KiB")
		}
		return params{}, ErrInvalidRequest.WithDescription("cannot read the request body")
	}
	return parseParams(ct, body)
}

// checkBodyFormat refuses a token request whose body format is not among
// formats (tokens.body_formats; empty means both). A missing or malformed
// Content-Type is left to readParams, which reports it.
func checkBodyFormat(contentType string, formats []string) error {
	if contentType == "" || len(formats) == 0 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil
	}
	var f string
	switch mt {
	case "application/x-www-form-urlencoded":
		f = config.BodyForm
	case "application/json":
		f = config.BodyJSON
	}
	if f != "" && slices.Contains(formats, f) {
		return nil
	}
	names := make([]string, 0, len(formats))
	for _, f := range formats {
		switch f {
		case config.BodyForm:
			names = append(names, "application/x-www-form-urlencoded")
		case config.BodyJSON:
			names = append(names, "application/json")
		}
	}
	return ErrInvalidRequest.WithDescription("unsupported Content-Type: this token endpoint accepts " + strings.Join(names, " or "))
}

// parseParams parses a form or JSON body according to its content type.
// Every failure is an *Error with code invalid_request.
func parseParams(contentType string, body []byte) (params, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return params{}, ErrInvalidRequest.WithDescription("malformed Content-Type")
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		return parseForm(body)
	case "application/json":
		return parseJSON(body)
	}
	return params{}, ErrInvalidRequest.WithDescription("unsupported Content-Type: use application/x-www-form-urlencoded or application/json")
}

func parseForm(body []byte) (params, error) {
	vs, err := url.ParseQuery(string(body))
	if err != nil {
		return params{}, ErrInvalidRequest.WithDescription("malformed form body")
	}
	p := params{values: make(map[string]string, len(vs))}
	for k, v := range vs {
		if len(v) > 1 {
			return params{}, ErrInvalidRequest.WithDescription("parameter " + quoteParam(k) + " is given more than once")
		}
		p.values[k] = v[0]
	}
	return p, nil
}

// parseJSON reads one JSON object whose values are strings (scope may also
// be an array of strings); a key given twice is refused, unlike
// encoding/json's last-one-wins.
func parseJSON(body []byte) (params, error) {
	bad := func(desc string) (params, error) { return params{}, ErrInvalidRequest.WithDescription(desc) }
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad("the JSON body must be an object")
	}
	p := params{values: make(map[string]string)}
	seen := make(map[string]bool)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return bad("malformed JSON body")
		}
		k, _ := kt.(string)
		if seen[k] {
			return bad("parameter " + quoteParam(k) + " is given more than once")
		}
		seen[k] = true
		vt, err := dec.Token()
		if err != nil {
			return bad("malformed JSON body")
		}
		switch v := vt.(type) {
		case string:
			p.values[k] = v
		case nil: // null: omitted
		case json.Delim:
			if v != '[' || k != "scope" {
				return bad("parameter " + quoteParam(k) + " must be a string")
			}
			p.scopeArr = true
			for dec.More() {
				st, err := dec.Token()
				if err != nil {
					return bad("malformed JSON body")
				}
				s, ok := st.(string)
				if !ok {
					return bad("scope must be a string or an array of strings")
				}
				p.scopes = append(p.scopes, strings.Fields(s)...)
			}
			if t, err := dec.Token(); err != nil || t != json.Delim(']') {
				return bad("malformed JSON body")
			}
		default:
			return bad("parameter " + quoteParam(k) + " must be a string")
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return bad("malformed JSON body")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("unexpected data after the JSON object")
	}
	if p.scopeArr && p.values["scope"] != "" {
		return bad(`parameter "scope" is given more than once`)
	}
	return p, nil
}

// quoteParam quotes a parameter name for an error description, shortened
// and restricted to printable ASCII.
func quoteParam(k string) string {
	if len(k) > 40 {
		k = k[:40] + "..."
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, k) + `"`
}

// basicCredentials are the client id and secret of an HTTP Basic header,
// both as RFC 6749 §2.3.1 form-decoded and as sent.
type basicCredentials struct {
	id, secret       string
	rawID, rawSecret string
}

// parseBasic parses an Authorization header value of scheme Basic
// (case-insensitive), spaces (RFC 7235: 1*SP, then token68), and "id:secret"
// in canonical standard base64; trailing spaces and tabs are ignored. ok is
// false for another scheme or any other spelling of the credentials:
// net/http's Request.BasicAuth also takes line breaks inside the base64 and
// non-zero padding bits, so one credential would have many spellings.
func parseBasic(header string) (c basicCredentials, ok bool) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return c, false
	}
	rest = strings.TrimRight(strings.TrimLeft(rest, " "), " \t")
	raw, err := b64canon.Decode(base64.StdEncoding, rest)
	if err != nil {
		return c, false
	}
	c.rawID, c.rawSecret, found = strings.Cut(string(raw), ":")
	if !found || c.rawID == "" {
		return basicCredentials{}, false
	}
	c.id, c.secret = formDecode(c.rawID), formDecode(c.rawSecret)
	return c, true
}

// formDecode undoes application/x-www-form-urlencoded escaping, or returns
// s unchanged when it is not validly escaped (a client that did not
// encode).
func formDecode(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return d
}
