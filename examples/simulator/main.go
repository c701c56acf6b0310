// Command simulator runs the fake InstantVoice platform of package ivtest as
// a standalone server: a STOMP broker with the platform's request processor
// (on 127.0.0.1:61613 by default, the platform's port) and the IVWS SOAP
// endpoint (on 127.0.0.1:7789 by default), seeded with agents, queues, SIP
// users and permission groups. Partners point their own code, in any
// language, at it, and so can the other examples:
//
//	go run ./examples/simulator
//	IV_STOMP_ADDR=127.0.0.1:61613 IV_KEY=<the key it prints> go run ./examples/agent-session
//
// It runs until interrupted (SIGINT, SIGTERM) or for -duration. With
// -traffic it also logs the seeded agents in and plays an inbound call to
// one of them at that interval, so that event consumers have something to
// show.
//
// -h lists the flags: -stomp and -soap set the addresses, -key the access
// key (default: a random one, printed), -seed=false starts it empty and
// -seed-file seed.json from the state a JSON file describes (this
// directory's seed.json shows every member). -control 127.0.0.1:7790
// serves an HTTP control interface with which a test in any language
// resets the platform, plays calls, publishes raw events, withholds
// replies and lists the requests received; partner_test.py is such a test,
// in Python, and the README's "Simulator" section shows each call.
package main

import (
	"context"
	"os"

	"github.com/instantvoice/instantvoice-go/internal/simulator"
)

func main() {
	os.Exit(simulator.Main(context.Background(), "simulator", os.Args[1:], os.Stdout, os.Stderr))
}
