package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/console"
	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// defaultControl is where the console and the control interface listen
// unless -control says otherwise.
const defaultControl = "127.0.0.1:7790"

// serveControl serves the web console and the control interface on
// cfg.controlAddr (on a free loopback port when the default one is taken).
// It returns the base URL and the function that stops both.
func serveControl(cfg config, p *fakeplatform.Platform) (string, func(), error) {
	ln, err := net.Listen("tcp", cfg.controlAddr)
	if err != nil && !cfg.controlSet && errors.Is(err, syscall.EADDRINUSE) {
		ln, err = net.Listen("tcp", "127.0.0.1:0") // another simulator has the default port
	}
	if err != nil {
		return "", nil, fmt.Errorf("-control: %w", err)
	}
	con := console.New(p, console.Info{Accountcode: cfg.accountcode, STOMPAddr: p.STOMPAddr(), SOAPURL: p.SOAPURL()})
	mux := (&control{p: p, ac: cfg.accountcode}).handler()
	con.Handle(mux)
	srv := &http.Server{Handler: guard(mux, ln.Addr().String(), cfg.controlPublic), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	stop := func() {
		con.Close() // ends the console's streams, so that Shutdown need not wait for them
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		<-served
	}
	return "http://" + ln.Addr().String() + "/", stop, nil
}
