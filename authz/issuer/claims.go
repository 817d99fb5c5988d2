package issuer

import (
	"encoding/json"
	"strconv"

	"github.com/clearance-gw/clearance/authz/claims"
	"github.com/clearance-gw/clearance/config"
)

// appendClaims appends the claims of a as the JSON object SPEC §3 shapes
// (RFC 9068), byte for byte what jwx's jwt package writes for them: names
// in sorted order, times in whole seconds, strings escaped as
// encoding/json escapes them. Writing them here costs a tenth of building
// a jwt.Token and encoding it.
func appendClaims(b []byte, cfg *config.Config, a *accessToken) []byte {
	b = append(b, '{')
	if a.actor != "" {
		b = append(b, `"act":{"sub":`...)
		b = appendJSONString(b, a.actor)
		b = append(b, "},"...)
	}
	b = append(b, `"aud":[`...)
	b = appendJSONString(b, cfg.Tokens.Audience)
	b = append(b, "],"...)
	// A zero CreatedAt (a client declared in the config file and never
	// deleted: the store knows no creation time for it) gives no claim;
	// such a token falls under the iat rule of a cutoff.
	if !a.clientCreated.IsZero() {
		b = appendIntClaim(b, claims.ClientCreated, a.clientCreated.UnixMicro())
	}
	b = append(b, `"client_id":`...)
	b = appendJSONString(b, a.clientID)
	b = appendIntClaim(append(b, ','), "exp", a.expiresAt.Unix())
	b = appendIntClaim(b, "iat", a.issuedAt.Unix())
	b = append(b, `"iss":`...)
	b = appendJSONString(b, cfg.Issuer)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, a.jti)
	b = append(b, `,"scope":`...)
	b = appendJSONString(b, a.scope)
	b = append(b, ',')
	if a.sessionGen > 0 {
		b = appendIntClaim(b, claims.SessionGen, a.sessionGen)
	}
	if a.sessionID != "" {
		b = append(b, `"sid":`...)
		b = appendJSONString(b, a.sessionID)
		b = append(b, ',')
	}
	b = append(b, `"sub":`...)
	b = appendJSONString(b, a.subject)
	if !a.userCreated.IsZero() { // the last member: no comma after it
		b = append(b, `,"`+claims.UserCreated+`":`...)
		b = strconv.AppendInt(b, a.userCreated.UnixMicro(), 10)
	}
	return append(b, '}')
}

// appendIntClaim appends "name":v and a comma.
func appendIntClaim(b []byte, name string, v int64) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	b = strconv.AppendInt(b, v, 10)
	return append(b, ',')
}

// appendJSONString appends s as encoding/json writes it: plain ASCII as
// is, anything else (quotes, control characters, <, > and &, non-ASCII)
// by encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
