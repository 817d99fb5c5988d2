package sampleapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(NewHandler())
	defer srv.Close()
	tests := []struct {
		path   string
		status int
		check  func(t *testing.T, body []byte)
	}{
		{"/v1/airports/eddf", http.StatusOK, func(t *testing.T, b []byte) {
			var a Airport
			if err := json.Unmarshal(b, &a); err != nil || a.ICAO != "EDDF" || a.Elevation != 364 {
				t.Errorf("airport = %+v, %v", a, err)
			}
		}},
		{"/v1/airports/ZZZZ", http.StatusNotFound, nil},
		{"/v1/charts/EDDF", http.StatusOK, func(t *testing.T, b []byte) {
			var c []Chart
			if err := json.Unmarshal(b, &c); err != nil || len(c) != 2 {
				t.Errorf("charts = %+v, %v", c, err)
			}
		}},
		{"/v1/airspace", http.StatusOK, func(t *testing.T, b []byte) {
			var a []Airspace
			if err := json.Unmarshal(b, &a); err != nil || len(a) != 3 {
				t.Errorf("airspace = %+v, %v", a, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.status)
			}
			var raw json.RawMessage
			if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, raw)
			}
		})
	}
}
