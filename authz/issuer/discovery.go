package issuer

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/clearance-gw/clearance/config"
)

// serveJWKS publishes the public signing keys.
func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Short: a rotated key signs at once, and verifiers refetch on an
	// unknown kid anyway.
	h.Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(s.keys.JWKS())
	}
}

// metadata is RFC 8414 authorization server metadata.
type metadata struct {
	Issuer                           string   `json:"issuer"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	RevocationEndpoint               string   `json:"revocation_endpoint"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	ScopesSupported                  []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported    []string `json:"code_challenge_methods_supported"`
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	s.writeMetadata(w, r, s.cfg())
}

// writeMetadata serves the metadata of cfg.
func (s *Server) writeMetadata(w http.ResponseWriter, r *http.Request, cfg *config.Config) {
	if !getOnly(w, r) {
		return
	}
	base := strings.TrimSuffix(cfg.Issuer, "/")
	authMethods := []string{"client_secret_basic", "client_secret_post", "none"}
	body, err := json.Marshal(metadata{
		Issuer:                           cfg.Issuer,
		AuthorizationEndpoint:            base + cfg.Endpoints.Authorize,
		TokenEndpoint:                    base + cfg.Endpoints.Token,
		JWKSURI:                          base + JWKSPath,
		RevocationEndpoint:               base + RevokePath,
		IntrospectionEndpoint:            base + IntrospectPath,
		ScopesSupported:                  cfg.Scopes,
		ResponseTypesSupported:           []string{"code", "token"},
		GrantTypesSupported:              append(s.GrantTypes(), "implicit"),
		TokenEndpointAuthMethods:         authMethods,
		RevocationEndpointAuthMethods:    authMethods,
		IntrospectionEndpointAuthMethods: authMethods[:2],
		CodeChallengeMethodsSupported:    []string{"S256"},
	})
	if err != nil {
		s.writeError(r.Context(), w, "metadata request", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}

// getOnly answers anything but GET and HEAD with a JSON 405.
func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":"invalid_request","error_description":"use GET"}`))
	return false
}
