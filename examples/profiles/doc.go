// Package profiles holds the tests that run the gateway on each profile in
// examples/ (capa.yaml, altitudeangel.yaml, navigraph.yaml) and follow that
// API's documentation step by step, with the exact requests it shows.
package profiles
