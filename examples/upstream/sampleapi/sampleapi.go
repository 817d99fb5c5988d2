// Package sampleapi is a small sample aviation data API: a few airports, their
// charts, and airspace volumes, as JSON. It stands behind the gateway in the
// quickstart and in tests, and "go run ./examples/upstream" serves it on its
// own. It knows nothing about OAuth: it trusts the X-Auth-* headers the
// gateway sets.
package sampleapi

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// Airport is one aerodrome.
type Airport struct {
	ICAO      string  `json:"icao"`
	Name      string  `json:"name"`
	City      string  `json:"city"`
	Latitude  float64 `json:"lat"`
	Longitude float64 `json:"lon"`
	Elevation int     `json:"elevation_ft"`
}

// Chart is one published procedure chart.
type Chart struct {
	ICAO  string `json:"icao"`
	ID    string `json:"id"`
	Type  string `json:"type"` // APT, SID, STAR, IAP
	Title string `json:"title"`
}

// Airspace is one controlled or restricted volume.
type Airspace struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Class  string `json:"class"`
	Lower  string `json:"lower"`
	Upper  string `json:"upper"`
	Active bool   `json:"active"`
}

var airports = []Airport{
	{"EDDF", "Frankfurt am Main", "Frankfurt", 50.0333, 8.5706, 364},
	{"EGLL", "London Heathrow", "London", 51.4706, -0.4619, 83},
	{"KSFO", "San Francisco International", "San Francisco", 37.6188, -122.3750, 13},
	{"LSZH", "Zurich", "Zurich", 47.4647, 8.5492, 1416},
	{"YSSY", "Sydney Kingsford Smith", "Sydney", -33.9461, 151.1772, 21},
}

var charts = []Chart{
	{"EDDF", "EDDF-APT-1", "APT", "Airport diagram"},
	{"EDDF", "EDDF-IAP-25L", "IAP", "ILS Z RWY 25L"},
	{"EGLL", "EGLL-STAR-BIG1E", "STAR", "BIGGIN 1E arrival"},
	{"KSFO", "KSFO-IAP-28R", "IAP", "ILS OR LOC RWY 28R"},
	{"LSZH", "LSZH-SID-VEBIT", "SID", "VEBIT 3W departure"},
}

var airspaces = []Airspace{
	{"EDDF-CTR", "Frankfurt CTR", "D", "GND", "2500 ft MSL", true},
	{"EGLL-CTA", "London CTA", "A", "2500 ft MSL", "FL105", true},
	{"ED-R132", "Restricted area Grafenwoehr", "R", "GND", "FL100", false},
}

// NewHandler returns the sample API. Its paths:
//
//	GET /v1/status                       service status (public in the quickstart)
//	GET /v1/airports[?country=…]         every airport
//	GET /v1/airports/{icao}              one airport
//	GET /v1/charts/{icao}                the charts of an airport
//	GET /v1/airspace                     airspace volumes
//	GET /v1/whoami                       the identity headers the gateway forwarded
func NewHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": "sample aviation data API"})
	})
	mux.HandleFunc("GET /v1/airports", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, airports)
	})
	mux.HandleFunc("GET /v1/airports/{icao}", func(w http.ResponseWriter, r *http.Request) {
		icao := strings.ToUpper(r.PathValue("icao"))
		for _, a := range airports {
			if a.ICAO == icao {
				writeJSON(w, http.StatusOK, a)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no airport " + icao})
	})
	mux.HandleFunc("GET /v1/charts/{icao}", func(w http.ResponseWriter, r *http.Request) {
		icao := strings.ToUpper(r.PathValue("icao"))
		out := []Chart{}
		for _, c := range charts {
			if c.ICAO == icao {
				out = append(out, c)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /v1/airspace", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, airspaces)
	})
	mux.HandleFunc("GET /v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		seen := map[string]string{}
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Auth-") || k == "Authorization" {
				seen[k] = strings.Join(v, ",")
			}
		}
		keys := make([]string, 0, len(seen))
		for k := range seen {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		writeJSON(w, http.StatusOK, map[string]any{"headers": seen, "order": keys})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
