package issuer_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/issuer"
	"github.com/clearance-gw/clearance/authz/signing"
)

// TestIntrospectionAfterTheClientIsDeleted: a client registered again
// under a deleted client's id does not learn that its predecessor's
// tokens are active; its own new tokens are, at once.
func TestIntrospectionAfterTheClientIsDeleted(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	cc := url.Values{"grant_type": {"client_credentials"}}
	old := fx.form(cc, "Authorization", basic("backend", backendSecret)).str("access_token")
	introspect := func(tok string) any {
		t.Helper()
		r := fx.endpoint("/introspect", url.Values{"token": {tok}}, "backend", backendSecret)
		if r.status != 200 {
			t.Fatalf("introspect: %d %s", r.status, r.raw)
		}
		return r.body["active"]
	}
	if introspect(old) != true {
		t.Fatal("the token is inactive before the deletion")
	}

	fx.clock.Advance(300 * time.Millisecond)
	if err := fx.st.DeleteClient(ctx, "backend", fx.clock.Now(), signing.MaxTokenLifetime(fx.cfg)); err != nil {
		t.Fatal(err)
	}
	if err := fx.revs.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := issuer.UpsertClients(ctx, fx.st, fx.cfg); err != nil { // registered again, same id and secret
		t.Fatal(err)
	}
	if introspect(old) != false {
		t.Error("the deleted client's token is active for the new client of that id")
	}
	// The new client's own tokens are active at once, in the second of
	// the deletion.
	fresh := fx.form(cc, "Authorization", basic("backend", backendSecret)).str("access_token")
	if introspect(fresh) != true {
		t.Error("the new client's own token is inactive")
	}
}
