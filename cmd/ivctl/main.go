// Command ivctl calls the InstantVoice platform from a shell: any of its 41
// integration methods by name, with the platform's own argument names; its
// call events as JSON lines; and the fake platform (the simulator) as a
// server to try it all on.
//
// Install it with
//
//	go install github.com/instantvoice/instantvoice-go/cmd/ivctl@latest
//
// Usage:
//
//	ivctl [flags] methods                       the 41 methods with their wire argument names
//	ivctl [flags] call METHOD [name=value ...]  one call
//	ivctl [flags] help METHOD                   one method's arguments, from the reference
//	ivctl [flags] events [-calls] [TOPIC ...]   events as JSON lines until interrupted (default: all agents;
//	                                            a bare agent number 1001 is default_1001, see -accountcode)
//	ivctl sim [simulator flags]                 the fake platform as a server
//
// The flags select the endpoint, -stomp host:port (IV_STOMP_ADDR) or -soap
// URL (IV_SOAP_URL), not both (when both variables are set, STOMP is
// used); the access key, -key (IV_KEY); the STOMP
// login, -login and -passcode (IV_STOMP_LOGIN, IV_STOMP_PASSCODE); the
// time a call may take, -timeout (default 10s); and the output, -o json
// (default) or -o table.
//
// call takes the arguments by the names the platform's reference gives them
// for STOMP, matched without regard to case, each at most once; a list (the
// lines of AgentLineAdd, the queues of AgentQueueAdd) is JSON, any other
// value text as written:
//
//	ivctl call AgentLogin Accountcode=default User=1001 Interface=SIP/default_0001
//	ivctl call AgentQueueAdd accountcode=default user=1001 queues='[{"name":"7000","priority":"0"}]'
//	ivctl call AgentInfo accountcode=default user=1001
//
// A method with a result prints it as one JSON value on stdout, with the
// platform's field names; a method without a result prints nothing. The
// exit status is 0 on success; 1 when the platform answered a non-zero
// return code (stderr names it: "RESPONSE_NOT_FOUND (3): Agent not found")
// or the call failed; 2 for a usage error, in which case nothing was sent.
// Neither the key nor the passcode is ever printed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second interrupt kills at once
	}()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
