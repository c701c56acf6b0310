// Package fakeplatform is the fake InstantVoice platform behind package
// ivtest and the simulator: its state, its 41 integration methods, the
// call flows and fault injection. Its processor package serves the
// methods over STOMP, and internal/fakeivws over IVWS. Package ivtest
// documents the behaviour for partners; this package is what ivtest and
// the simulator share, and it does not import the testing package, so the
// simulator's binary does not link it.
//
// A newcomer reads it in this order:
//
//   - platform.go: Platform, Start, Close, the request log, DropReplies,
//     SetReplyFunc, publishing, and serveSTOMP, which answers one request
//     read from the request queue;
//   - the processor package: the STOMP client side, one connection
//     reading requests and one publishing replies and events from an
//     unbounded queue, reconnecting when the broker drops it;
//   - handle.go: handle, which runs any method for either transport (the
//     checks in the order the platform makes them, then the method), and
//     rq, a request's arguments with the platform's aliases;
//   - state.go: what the platform knows (accountcodes, agents and their
//     lines, queues, SIP users, permission groups, calls) and the lookups
//     that answer RESPONSE_NOT_FOUND;
//   - one file per family of methods: agents.go, queues.go, sipusers.go,
//     permissions.go, calls.go (login, pause, NewCall, BlindTransfer,
//     Hangup), callbacks.go (SendSms, NewCallBack); settings.go holds the
//     fields of queues and SIP users;
//   - flows.go: the call flows a test plays (InboundCall, ...) and Reset;
//     observe.go: Agents, Queues, Watch, DelayReplies;
//   - broker.go: what a test sees of the embedded broker (internal/
//     fakebroker); ivws.go: the platform as its IVWS endpoint (internal/
//     fakeivws) sees it; salvage.go: the lenient scan that answers a
//     request too broken to parse.
//
// Every method of Platform takes p.mu around the state; events a method
// causes are queued, in order, before its reply.
package fakeplatform
