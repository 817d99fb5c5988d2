// Package authz holds the two products of the binary besides the proxy:
// the gateway's guard and the authorization server. It has no code of its
// own; this file is the map.
//
// The gateway side, on every proxied request:
//
//   - guard: extract a bearer token, verify it (JWKS cache, verified-token
//     cache), revoked?, then the policy steps in one place (scopes, origin,
//     subscription), and the RFC 6750 error writer. It reads in-memory
//     views (revocations, client origins) through small interfaces of its
//     own and imports neither the store nor the issuer.
//   - sigkey: which JSON Web Keys and algorithms are accepted for
//     verifying tokens; used by the guard and by config validation.
//
// The authorization-server side:
//
//   - issuer: the token endpoint (one file per grant), discovery and JWKS,
//     revocation (RFC 7009) and introspection (RFC 7662).
//   - portal: /authorize (login, consent) and the developer portal.
//   - signing: the key-encryption key, the sealing of private keys and the
//     keyring that signs tokens; used by the issuer, the portal's cookies
//     and the CLI.
//   - store: the state behind one interface (store/sqlite, store/storetest).
//
// Small helpers with one job each:
//
//   - revocation: revoked tokens, sessions and cutoffs kept in memory.
//   - subscription: subscription checks and GET /v1/subscriptions/valid.
//   - websession: signed browser-session cookies, CSRF, flash, throttle.
//   - secret: client secrets, opaque tokens and password hashes.
//   - login: the one check of a user's name and password.
//   - entitlement: which scopes a portal client may hold.
//
// Dependencies point one way: the proxy uses the guard; internal/cli wires
// the issuer and the portal, which use the store and signing. The issuer
// does not import the guard.
package authz
