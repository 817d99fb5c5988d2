package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestServe runs the command's server: it says where it listens, answers
// the sample API's paths there, and stops when its context ends.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, &out) }()

	res, err := http.Get("http://" + ln.Addr().String() + "/v1/airports/EDDF")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		ICAO string `json:"icao"`
	}
	err = json.NewDecoder(res.Body).Decode(&a)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || err != nil || a.ICAO != "EDDF" {
		t.Fatalf("GET /v1/airports/EDDF: %d %+v %v", res.StatusCode, a, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	if want := "listens on http://" + ln.Addr().String(); !strings.Contains(out.String(), want) {
		t.Errorf("output %q lacks %q", out.String(), want)
	}
}
