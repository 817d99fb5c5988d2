package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
)

// codeGrant is RFC 6749 §4.1.3 with PKCE (RFC 7636, S256 only): the code
// the authorize endpoint issued is exchanged, once, for a session with a
// refresh token. A replayed code revokes what was issued with it (the store
// does, and the revocation set learns it here). Public clients must have
// used PKCE.
//
// The code is bound to its client before anything else: the store consumes
// it only for the client it was issued to, in the same transaction, so a
// code presented by another client is "unknown" (invalid_grant) and stays
// usable by its own client, with nothing revoked.
//
// A redirect_uri or PKCE mismatch by the code's own client comes after the
// code was consumed, and so burns it: a later exchange is a replay (RFC
// 6749 §4.1.2: revoke what the code gave, here the session that was never
// created). That is deliberate. Only the code's client (for a confidential
// client, one holding its secret) gets that far, and a wrong verifier or
// redirect URI from it means the code leaked or the exchange is forged;
// refusing the code for good is the safe answer, and the legitimate client
// starts a new authorization. Not consuming would also need the store to
// check PKCE, or a second round trip that another exchange could race.
type codeGrant struct{ s *Server }

func (codeGrant) Public() bool     { return true }
func (codeGrant) FirstParty() bool { return false }

func (g codeGrant) Issue(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	s := g.s
	code := req.params.get("code")
	if code == "" {
		return nil, ErrInvalidRequest.WithDescription("code is required")
	}
	c, err := s.st.ConsumeCode(ctx, req.client.ID, secret.HashSecret(code), req.now)
	if reused, ok := errors.AsType[*store.CodeReusedError](err); ok {
		s.revokedSession(ctx, reused.Code.SessionID, time.Time{})
		s.log.WarnContext(ctx, "authorization code reused: session revoked",
			"client_id", req.client.ID, "sid", reused.Code.SessionID)
		return nil, ErrInvalidGrant.WithDescription("the authorization code was already used")
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidGrant.WithDescription("unknown authorization code")
	case errors.Is(err, store.ErrExpired):
		return nil, ErrInvalidGrant.WithDescription("the authorization code has expired")
	case err != nil:
		return nil, fmt.Errorf("consume authorization code: %w", err)
	}
	if c.ClientID != req.client.ID { // the store checked it; never issue on a store that did not
		return nil, fmt.Errorf("consume authorization code: the store returned a code of client %q to client %q", c.ClientID, req.client.ID)
	}
	if c.RedirectURI != "" && req.params.get("redirect_uri") != c.RedirectURI {
		return nil, ErrInvalidGrant.WithDescription("redirect_uri does not match the authorization request")
	}
	if err := checkPKCE(c, req.params.get("code_verifier"), len(req.client.SecretHash) == 0); err != nil {
		return nil, err
	}
	// The code's scope, less what a portal client's owner is no longer
	// entitled to.
	scope := c.Scope
	if current, limited, err := s.allowedScopes(ctx, req.cfg, req.client); err != nil {
		return nil, err
	} else if limited {
		scope = strings.Join(slices.DeleteFunc(strings.Fields(c.Scope), func(sc string) bool {
			return !slices.Contains(current, sc)
		}), " ")
		if scope == "" {
			return nil, errNotEntitled(req.cfg)
		}
	}
	u, err := s.grantUser(ctx, c.Subject, c.CreatedAt)
	if err != nil {
		return nil, err
	}
	return s.issueSession(ctx, req, session{id: c.SessionID, kind: store.KindRefresh, subject: c.Subject,
		scope: scope, accessTT: accessTTL(req.cfg, req.client), refresh: true,
		lifetime: refreshTTL(req.cfg, req.client), userCreated: u.CreatedAt})
}

// checkPKCE verifies code_verifier against the code's S256 challenge.
func checkPKCE(c store.AuthCode, verifier string, public bool) error {
	if c.CodeChallenge == "" {
		if public {
			return ErrInvalidGrant.WithDescription("PKCE is required for public clients")
		}
		if verifier != "" {
			return ErrInvalidGrant.WithDescription("code_verifier given but the authorization request had no code_challenge")
		}
		return nil
	}
	if c.CodeChallengeMethod != "S256" {
		return ErrInvalidGrant.WithDescription("unsupported code_challenge_method")
	}
	if verifier == "" {
		return ErrInvalidGrant.WithDescription("code_verifier is required")
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(c.CodeChallenge)) != 1 {
		return ErrInvalidGrant.WithDescription("code_verifier does not match the code_challenge")
	}
	return nil
}
