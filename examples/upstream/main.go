// Command upstream serves the sample aviation data API on its own, for the
// gateway to stand in front of: every route of gateway.yaml and of the
// example profiles points at it.
//
//	go run ./examples/upstream                          # on 127.0.0.1:9000
//	go run ./examples/upstream -listen 127.0.0.1:9001   # on another address
//
// It runs until Ctrl-C (SIGINT) or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clearance-gw/clearance/examples/upstream/sampleapi"
)

const defaultAddr = "127.0.0.1:9000"

func main() {
	listen := flag.String("listen", defaultAddr, "host:port to serve the sample API on (the address gateway.yaml's routes point at)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: go run ./examples/upstream [-listen HOST:PORT]

Serves the sample aviation data API (airports, charts, airspace) that the
gateway's example configurations send their routes to. It knows nothing
about tokens: run the gateway in front of it.

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
	if err := serve(ctx, ln, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}

// serve says where it listens, then serves the sample API on ln until ctx
// ends.
func serve(ctx context.Context, ln net.Listener, out io.Writer) error {
	srv := &http.Server{Handler: sampleapi.NewHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "The sample API listens on http://%s (Ctrl-C stops it)\n", ln.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}
