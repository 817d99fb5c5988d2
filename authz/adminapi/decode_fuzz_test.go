package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/clearance-gw/clearance/authz/service"
)

// FuzzDecodeBody feeds arbitrary bodies to the strict decoder of every
// request body the admin API takes. Properties: it never panics; it
// answers nil or a typed error (a *Problem, or a *service.ValidationError
// naming fields); every key of the object that is not a field of the body
// is named as unknown; and what it accepts decodes again, from its own
// encoding, to the same value (nothing is half-read).
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"alice","password":"pw","admin":false,"scopes":["charts"],"plan":"free"}`,
		`{"scopes":null,"plan":"","password":"x"}`,
		`{"id":"app","name":"App","grants":["client_credentials"],"scopes":[],"redirect_uris":[],"allowed_origins":[],"first_party":true,"owner":"","plan":""}`,
		`{"type":"fmsdata","name":"Nav","date_active":"2026-01-01","date_expiry":"2027-01-01"}`,
		`{"name":1}`, `{"Name":"x"}`, `{"name":"a","name":"b"}`, `[]`, `null`, `{}`, `{"scopes":[1]}`,
		"{\"name\":\"\xff\"}", `{"unknown":true,"other":[]}`,
	} {
		f.Add(seed)
	}
	kinds := []func() any{
		func() any { return new(userCreate) }, func() any { return new(userPatch) },
		func() any { return new(clientCreate) }, func() any { return new(clientPatch) },
		func() any { return new(subscriptionCreate) },
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, mk := range kinds {
			v := mk()
			err := decodeString(body, v)
			if err != nil {
				var p *Problem
				var ve *service.ValidationError
				switch {
				case errors.As(err, &p):
				case errors.As(err, &ve):
					if len(ve.Fields) == 0 {
						t.Fatalf("%T: a validation error naming no field for %q", v, body)
					}
				default:
					t.Fatalf("%T: untyped error %v for %q", v, err, body)
				}
			}
			var raw map[string]json.RawMessage
			if json.Unmarshal([]byte(body), &raw) == nil && raw != nil {
				known := jsonFields(v)
				for k := range raw {
					if known[k] {
						continue
					}
					var ve *service.ValidationError
					if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Fields, func(fe service.FieldError) bool {
						return fe.Field == k && fe.Detail == "unknown field"
					}) {
						t.Fatalf("%T: unknown field %q not named for %q (err %v)", v, k, body, err)
					}
				}
			}
			if err != nil {
				continue
			}
			again, _ := json.Marshal(v)
			w := mk()
			if err := decodeString(string(again), w); err != nil {
				t.Fatalf("%T: its own encoding %s refused: %v", v, again, err)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("%T: %+v decoded again as %+v", v, v, w)
			}
		}
	})
}

// decodeString runs decode on an application/json request with body.
func decodeString(body string, v any) error {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(body))
	r.Header.Set("Content-Type", "application/json")
	return decode(httptest.NewRecorder(), r, v)
}
