// Package attack holds black-box attack tests against the running gateway:
// each test starts "clearance serve" in-process on loopback ports, registers
// clients and users through the command line, and attacks the public and
// admin listeners over real HTTP (token forgery, token leakage, header
// spoofing, path tricks, the token endpoint, /authorize, the portal,
// revocation and introspection, CORS and metrics cardinality).
//
// The package has no code of its own; it exists for its tests.
package attack
