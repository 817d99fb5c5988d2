package issuer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

func TestMintImplicit(t *testing.T) {
	fx := newFixture(t)
	tok, expiresIn, err := fx.srv.MintImplicit(context.Background(), "third", "alice", "user")
	if err != nil {
		t.Fatal(err)
	}
	at := fx.verify(tok)
	sid := claim(at, "sid")
	if at.Subject() != "alice" || claim(at, "client_id") != "third" || claim(at, "scope") != "user" || sid == "" {
		t.Errorf("claims sub %q client_id %q scope %q sid %q", at.Subject(), claim(at, "client_id"), claim(at, "scope"), sid)
	}
	if want := int64(fx.cfg.Tokens.AccessTTL.D() / time.Second); expiresIn != want || !at.Expiration().Equal(t0.Add(fx.cfg.Tokens.AccessTTL.D())) {
		t.Errorf("expires_in %d exp %v, want %d", expiresIn, at.Expiration(), want)
	}
	s, err := fx.st.GetSession(context.Background(), sid)
	if err != nil || s.Kind != store.KindImplicit || s.Subject != "alice" {
		t.Errorf("session %+v, %v: want an implicit session of alice (listed and revocable)", s, err)
	}
	if _, _, err := fx.srv.MintImplicit(context.Background(), "nope", "alice", "user"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown client: %v", err)
	}
}
