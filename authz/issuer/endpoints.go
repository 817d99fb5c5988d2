package issuer

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/internal/b64canon"
)

// Fixed paths of the discovery, revocation and introspection endpoints.
const (
	JWKSPath       = "/.well-known/jwks.json"
	MetadataPath   = "/.well-known/oauth-authorization-server"
	RevokePath     = "/revoke"
	IntrospectPath = "/introspect"
)

// postParams checks the method and reads the parameters of a revoke or
// introspect request, authenticating the client. publicOK lets a public
// client identify itself by client_id alone.
func (s *Server) postParams(w http.ResponseWriter, r *http.Request, endpoint string, publicOK bool) (params, store.Client, bool) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(ctx, w, endpoint, ErrInvalidRequest.WithStatus(http.StatusMethodNotAllowed).
			WithDescription("use POST"))
		return params{}, store.Client{}, false
	}
	p, err := readParams(w, r)
	if err == nil {
		var c store.Client
		var authenticated bool
		c, authenticated, err = s.authenticate(ctx, r, p)
		if err == nil && !authenticated && !publicOK {
			err = ErrInvalidClient.WithDescription("client authentication is required")
		}
		if err == nil {
			if p.get("token") == "" {
				err = ErrInvalidRequest.WithDescription("token is required")
			} else {
				return p, c, true
			}
		}
	}
	s.writeError(ctx, w, endpoint, err)
	return params{}, store.Client{}, false
}

// ownToken parses and validates an access token this gateway minted: our
// keys, our issuer, not expired at now, spelled as minted (canonical
// base64url segments, as the gateway's verifier requires: jwx alone would
// take stray padding bits). ok is false for anything else.
func (s *Server) ownToken(raw string) (jwt.Token, bool) {
	if strings.Count(raw, ".") != 2 {
		return nil, false
	}
	for seg := range strings.SplitSeq(raw, ".") {
		if _, err := b64canon.Decode(base64.RawURLEncoding, seg); err != nil {
			return nil, false
		}
	}
	tok, err := jwt.ParseString(raw,
		jwt.WithKeySet(s.keys.PublicSet()),
		jwt.WithClock(jwt.ClockFunc(s.now)),
		jwt.WithIssuer(s.cfg().Issuer),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
	)
	return tok, err == nil
}

func claimString(tok jwt.Token, name string) string {
	v, _ := tok.Get(name)
	s, _ := v.(string)
	return s
}
