package config_test

import (
	"fmt"

	"github.com/clearance-gw/clearance/config"
)

func ExampleParse() {
	env := map[string]string{"CHARTS_UPSTREAM": "http://10.0.0.7:8080"}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }

	cfg, err := config.Parse("gateway.yaml", []byte(`
issuer: https://gw.example
scopes: [charts]
routes:
  - name: charts
    path: /charts/
    upstream: ${CHARTS_UPSTREAM}
    scopes: [charts]
`), lookup)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := cfg.RouteByName("charts")
	fmt.Println(r.Path, r.Upstream, r.Scopes)
	// Defaults are filled in: the rest of the program trusts the Config.
	fmt.Println(cfg.Realm, cfg.Tokens.Alg, cfg.Tokens.AccessTTL.D())
	// Output:
	// /charts/ http://10.0.0.7:8080 [charts]
	// clearance RS256 1h0m0s
}

func ExampleParse_problems() {
	_, err := config.Parse("gateway.yaml", []byte(`
issuer: https://gw.example
routes:
  - name: charts
    path: charts
    upstream: http://10.0.0.7:8080
    scopes: [charts]
    timeuot: 5s
`), nil)
	// Every problem at once, each with its line and column.
	fmt.Println(err)
	// Output:
	// gateway.yaml:5:11: routes[0].path: path "charts" must start with /
	// gateway.yaml:7:14: routes[0].scopes[0]: unknown scope "charts": declare it under scopes:
	// gateway.yaml:8:5: unknown key "timeuot" in routes[0] (did you mean "timeout"?)
}
