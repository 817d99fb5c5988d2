// Command sampleapi serves the sample aviation data API (examples/upstream/sampleapi)
// on the address given by -listen, for the cluster example's compose file.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/clearance-gw/clearance/examples/upstream/sampleapi"
)

func main() {
	listen := flag.String("listen", ":9000", "address to listen on")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: sampleapi.NewHandler(), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
