package guard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/clearance-gw/clearance/config"
)

// Refusals answers exactly as WriteError does, whether the refusal is
// rendered anew or reused, and leaves no answer's headers in another's.
func TestRefusalsAnswerAsWriteError(t *testing.T) {
	f := newFixture(t, withMeter([]config.Plan{{Name: "free", Rate: "1/min"}}, "free"))
	tok := mint(t, f.rsa, claims(idpIssuer))
	f.guard.Check(bearerRequest(tok), meteredRoute)
	_, limited := f.guard.Check(bearerRequest(tok), meteredRoute)
	if limited == nil {
		t.Fatal("second request within the minute accepted")
	}
	st := &state{}
	scope403 := st.scopeErrorsOf(&config.Route{Scopes: []string{"a", "b"}, InsufficientScopeStatus: http.StatusForbidden}).all
	refusals := []error{
		errSignature, errExpired, ErrMissingToken, errMalformedHeader, scope403,
		ErrSubscriptionRequired.WithDescription("subscription", `an active "gold" subscription is required`),
		errKeysUnavailable, limited, errors.New("database on fire"),
	}
	rs := NewRefusals(`the "realm"`)
	for round := range 2 {
		for _, err := range refusals {
			want := httptest.NewRecorder()
			want.Header().Set("X-Other", "kept")
			WriteError(want, err, `the "realm"`)
			got := httptest.NewRecorder()
			got.Header().Set("X-Other", "kept")
			rs.Write(got, err)
			if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) || got.Body.String() != want.Body.String() {
				t.Errorf("round %d, %v:\n got %d %v %s\nwant %d %v %s", round, err,
					got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
			}
		}
	}
	// The 429's own fields are added per request; its body is reused.
	if n := len(rs.rendered); n != len(refusals) {
		t.Errorf("%d refusals rendered, want %d", n, len(refusals))
	}
}

// A refusal rendered once is written without allocating.
func TestRefusalsReuseAllocatesNothing(t *testing.T) {
	rs := NewRefusals("clearance")
	w := &headerOnlyWriter{h: http.Header{}}
	for _, err := range []error{errSignature, ErrMissingToken, errExpired} {
		if n := testing.AllocsPerRun(100, func() { rs.Write(w, err) }); n != 0 {
			t.Errorf("%v: %v allocations per refusal", err, n)
		}
	}
}

// headerOnlyWriter keeps headers and discards the rest.
type headerOnlyWriter struct{ h http.Header }

func (w *headerOnlyWriter) Header() http.Header         { return w.h }
func (w *headerOnlyWriter) WriteHeader(int)             {}
func (w *headerOnlyWriter) Write(b []byte) (int, error) { return len(b), nil }
