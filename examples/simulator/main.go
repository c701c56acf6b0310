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
// -traffic 2s it also logs the seeded agents in and plays an inbound call
// to one of them every two seconds, so that event consumers have something
// to show.
//
// -h lists the flags: -stomp and -soap set the addresses, -key the access
// key (default: a random one, printed), -seed=false starts it empty and
// -seed-file seed.json from the state a JSON file describes (this
// directory's seed.json shows every member). It serves a web console at
// http://127.0.0.1:7790/ (-control moves it, -control off turns it off):
// the agents, queues, calls, events and requests, live, with buttons that
// play calls, answer, hang up, transfer, pause, withhold or delay replies
// and reset. The same address serves the HTTP control interface behind
// those buttons, with which a test in any language drives the platform;
// partner_test.py is such a test, in Python, and the README's "Simulator"
// section shows each call. -traffic agents=2000,cps=50,talk=30s plays a
// load (README: "Rehearsing at load"); load.sh measures what it sustains.
package main

import (
	"context"
	"os"

	"github.com/instantvoice/instantvoice-go/internal/simulator"
)

func main() {
	os.Exit(simulator.Main(context.Background(), "simulator", os.Args[1:], os.Stdout, os.Stderr))
}
