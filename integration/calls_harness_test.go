package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/events"
)

// The whole-call tests play the platform with calls, not single events: a
// callScript is a set of calls over many agents, each a NEWCALL, a CONNECT
// when it was answered, and a HANGUP with a reason, published straight to
// the broker in an order that keeps many calls in progress at once. Worker
// processes (workerProcess with Mode "calls") consume them with
// ConsumeCalls and write one line per call handed over; checkCalls reads
// those lines back and judges them against the script.

// rabbitCommand runs the tests that need one RabbitMQ node.
const rabbitCommand = "bash scripts/rabbitmq.sh start && IV_RABBITMQ_ADDR=127.0.0.1:61613 IV_REQUIRE_BROKER=1 " +
	"go test -race -count=1 -run 'Calls' -v ./integration"

// needRabbit returns the RabbitMQ of IV_RABBITMQ_ADDR as a durableBroker,
// or skips when it is not set (fails when IV_REQUIRE_BROKER is set and it
// does not answer).
func needRabbit(t *testing.T) *durableBroker {
	t.Helper()
	addr := strings.TrimSpace(os.Getenv("IV_RABBITMQ_ADDR"))
	if addr == "" {
		t.Skip("needs RabbitMQ; run: " + rabbitCommand)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		if os.Getenv("IV_REQUIRE_BROKER") != "" {
			t.Fatalf("no broker answers at IV_RABBITMQ_ADDR=%s: %v", addr, err)
		}
		t.Skipf("no broker answers at IV_RABBITMQ_ADDR=%s: %v (run: %s)", addr, err, rabbitCommand)
	}
	_ = conn.Close()
	return &durableBroker{what: "rabbitmq", addrs: []string{addr},
		publisher: func(t *testing.T, _ int) eventPublisher { return dialPublisher(t, addr) }}
}

// callSpec is one call of a script, as the platform publishes it.
type callSpec struct {
	agent     string // "<acct>_<number>"
	topic     string
	uid       string
	direction string
	callerID  string
	reason    string
	answered  bool // a CONNECT is published
}

// callStep is one event of a script: call calls[call]'s event typ.
type callStep struct {
	call int
	typ  events.Type
}

// callScript is what the platform publishes in a whole-call test.
type callScript struct {
	run     string
	topics  []string
	calls   []callSpec
	steps   []callStep // in publication order
	maxOpen int        // the most calls in progress at once, in that order
}

var (
	answeredReasons   = []string{events.ReasonByCaller, events.ReasonByCallee, events.ReasonATransfer, events.ReasonBTransfer}
	unansweredReasons = []string{events.ReasonNoAnswer, events.ReasonBusy, events.ReasonFailed, events.ReasonQueueGiveUp, events.ReasonQueueMissed}
)

// newCallScript makes n calls spread over the agents of topics; each
// agent's calls follow one another, and the agents' events are interleaved
// at random, so that about one call per agent is in progress at any moment.
// Each call has its own direction, callerid and reason, for the checker to
// compare.
func newCallScript(run string, topics []string, n int, seed uint64) *callScript {
	rng := rand.New(rand.NewPCG(seed, 0x1cab))
	s := &callScript{run: run, topics: topics}
	perAgent := make([][]int, len(topics))
	for i := 0; i < n; i++ {
		a := i % len(topics)
		topic := topics[a]
		c := callSpec{agent: strings.TrimPrefix(topic, events.TopicPrefix), topic: topic,
			uid: fmt.Sprintf("%s.%d", run, i), direction: "INBOUND", callerID: fmt.Sprintf("21%08d", i),
			answered: rng.IntN(4) != 0}
		if rng.IntN(3) == 0 {
			c.direction = "OUTBOUND"
		}
		if c.answered {
			c.reason = answeredReasons[rng.IntN(len(answeredReasons))]
		} else {
			c.reason = unansweredReasons[rng.IntN(len(unansweredReasons))]
		}
		s.calls = append(s.calls, c)
		perAgent[a] = append(perAgent[a], i)
	}
	// Each agent's events in order; the agents drawn at random.
	type cursor struct{ calls, step int }
	var live []int
	cur := make([]cursor, len(topics))
	for a := range perAgent {
		if len(perAgent[a]) > 0 {
			live = append(live, a)
		}
	}
	open := 0
	for len(live) > 0 {
		j := rng.IntN(len(live))
		a := live[j]
		c := &cur[a]
		call := perAgent[a][c.calls]
		typs := s.calls[call].types()
		s.steps = append(s.steps, callStep{call: call, typ: typs[c.step]})
		switch c.step++; {
		case c.step == 1:
			open++
			s.maxOpen = max(s.maxOpen, open)
		case c.step == len(typs):
			open--
			c.calls, c.step = c.calls+1, 0
			if c.calls == len(perAgent[a]) {
				live = slices.Delete(live, j, j+1)
			}
		}
	}
	return s
}

// types are the call's events, in order.
func (c callSpec) types() []events.Type {
	if c.answered {
		return []events.Type{events.NewCall, events.Connect, events.Hangup}
	}
	return []events.Type{events.NewCall, events.Hangup}
}

// body is the call's event typ as the platform sends it: NEWCALL with the
// direction and callerid, CONNECT with the callerid, HANGUP with the
// callerid and the reason (see ivtest's Platform).
func (c callSpec) body(typ events.Type) []byte {
	ev := struct {
		Direction string `json:"direction"`
		CallerID  string `json:"callerid"`
		Type      string `json:"type"`
		UniqueID  string `json:"uniqueid"`
		Agent     string `json:"agent"`
		Reason    string `json:"reason,omitempty"`
	}{CallerID: c.callerID, Type: string(typ), UniqueID: c.uid, Agent: c.agent}
	switch typ {
	case events.NewCall:
		ev.Direction = c.direction
	case events.Hangup:
		ev.Reason = c.reason
	}
	b, _ := json.Marshal(ev)
	return b
}

// byUID maps each call's uniqueid to its index.
func (s *callScript) byUID() map[string]int {
	m := make(map[string]int, len(s.calls))
	for i, c := range s.calls {
		m[c.uid] = i
	}
	return m
}

// rawSender sends one event body to a topic as the platform does; sync
// waits until the broker has it and every one sent before.
type rawSender interface {
	sendRaw(topic string, body []byte, sync bool) error
}

func (p *publisher) sendRaw(topic string, body []byte, sync bool) error {
	var opts []func(*frame.Frame) error
	if sync {
		opts = append(opts, stomp.SendOpt.Receipt)
	}
	return p.conn.Send(topic, "application/json", body, opts...)
}

func (f fakePublisher) sendRaw(topic string, body []byte, sync bool) error {
	if err := f.p.PublishRaw(topic, body); err != nil || !sync {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), phaseLimit)
	defer cancel()
	return f.p.Sync(ctx)
}

// publishSteps publishes steps from..to-1 of s, rate events a second at
// most (0: as fast as it can), each hundredth confirmed by the broker, and
// the last. progress, when not nil, is told how many steps are out.
func (s *callScript) publishSteps(ctx context.Context, to rawSender, from, upto int, rate int, progress func(int)) error {
	const batch = 20
	start := time.Now()
	for i := from; i < upto; i++ {
		st := s.steps[i]
		c := s.calls[st.call]
		sync := i == upto-1 || (i-from)%100 == 99
		if err := to.sendRaw(c.topic, c.body(st.typ), sync); err != nil {
			return fmt.Errorf("publishing step %d (%s %s): %w", i, c.uid, st.typ, err)
		}
		if progress != nil && (sync || (i-from)%batch == 0) {
			// progress may hold the stream (a node restarting): the
			// rate counts from after it, with no burst to catch up.
			p := time.Now()
			progress(i + 1)
			start = start.Add(time.Since(p))
		}
		if rate > 0 && (i-from)%batch == batch-1 {
			due := start.Add(time.Duration(i-from+1) * time.Second / time.Duration(rate))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
	}
	if progress != nil {
		progress(upto)
	}
	return nil
}

// callLine is one line a calls worker writes: a call handed to its handler
// ("call"), a change of its active state ("active", from WithActiveChange),
// a connection ("conn", from the transport's state handler), or a record of
// the transport's log ("log", Info and above). At is the
// wall clock in Unix nanoseconds: the test and its workers share it.
type callLine struct {
	Kind        string `json:"k"`
	Worker      int    `json:"w"`
	At          int64  `json:"at"`
	UniqueID    string `json:"uid,omitempty"`
	Agent       string `json:"agent,omitempty"`
	Direction   string `json:"dir,omitempty"`
	CallerID    string `json:"callerid,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Redelivered bool   `json:"redelivered,omitempty"`
	Expired     bool   `json:"expired,omitempty"`
	Open        bool   `json:"open,omitempty"`
	Events      int    `json:"events,omitempty"`
	Active      bool   `json:"active,omitempty"`
	Addr        string `json:"addr,omitempty"`
	Msg         string `json:"msg,omitempty"`
}

func (l callLine) at() time.Time { return time.Unix(0, l.At) }

// readCallLines reads a calls worker's file. A last line cut by SIGKILL (no
// newline) is ignored.
func readCallLines(path string) ([]callLine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
		b = b[:i+1] // cut by the kill
	}
	var out []callLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l callLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return out, fmt.Errorf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// kill is when the test SIGKILLed a worker (or cut its network, or killed
// its node): the worker's active time ends then at the latest.
type kill struct {
	worker int
	at     time.Time
	what   string // "process", "node", "network"
}

// interval is a time a worker was active: from its WithActiveChange(true)
// to its WithActiveChange(false), its kill, or the end of the test.
type interval struct {
	worker   int
	from, to time.Time
	first    time.Time // its first call handed over, zero if none
	last     time.Time // its last call handed over
	calls    int
}

// callVerdict is what checkCalls found.
type callVerdict struct {
	calls, records  int
	lost            []string // calls without a record
	wrong           []string // records whose fields differ from what was published
	half            []string // records of calls handed over Expired or Open
	unmarked        []string // second records without Redelivered
	outside         []string // records outside their worker's active time
	overlaps        []string // two workers handing calls over at once
	unknown         int      // records of calls the script did not publish
	dupes, redeliv  int      // second records; records with Redelivered
	partial         int      // second records, Redelivered, with fields left blank (see checkRecords)
	perWorker       map[int]int
	intervals       []interval
	activeOverlaps  int // active intervals of two workers that overlap (logged: a cut network may cause it)
	takeovers       []time.Duration
	takeoverMissing int
}

// checkCalls judges the lines of every worker against s: every call has a
// record with the direction, callerid and reason published, none is half, a
// second record of a call is marked Redelivered (and may leave fields blank,
// for the handler to merge: checkRecords), every record falls in an
// active interval of its worker, and no two workers handed calls over at
// once. end is when the workers were stopped (an interval still open then
// ends there). It also measures each takeover: from a kill to the first
// call handed over by a worker that became active after it.
func checkCalls(s *callScript, lines map[int][]callLine, kills []kill, end time.Time) callVerdict {
	v := callVerdict{perWorker: map[int]int{}}
	idx := s.byUID()
	recs := map[string][]callLine{}
	for w, ls := range lines {
		var open *interval
		closeAt := func(at time.Time) {
			if open != nil {
				open.to = at
				v.intervals = append(v.intervals, *open)
				open = nil
			}
		}
		for _, l := range ls {
			switch l.Kind {
			case "active":
				if l.Active && open == nil {
					open = &interval{worker: w, from: l.at()}
				} else if !l.Active {
					closeAt(l.at())
				}
			case "call":
				v.records++
				v.perWorker[w]++
				recs[l.UniqueID] = append(recs[l.UniqueID], l)
				if open == nil {
					if len(v.outside) < 10 {
						v.outside = append(v.outside, fmt.Sprintf("worker %d handed %s over at %s while not active", w, l.UniqueID, l.at().Format("15:04:05.000")))
					} else {
						v.outside = append(v.outside, "")
					}
					continue
				}
				if open.calls == 0 {
					open.first = l.at()
				}
				open.calls++
				open.last = l.at()
			}
		}
		if open != nil {
			to := end
			for _, k := range kills {
				if k.worker == w && k.at.After(open.from) && k.at.Before(to) {
					to = k.at
				}
			}
			closeAt(to)
		}
	}
	v.checkRecords(s, idx, recs)
	v.checkIntervals()
	v.measureTakeovers(kills)
	return v
}

func (v *callVerdict) checkRecords(s *callScript, idx map[string]int, recs map[string][]callLine) {
	note := func(list *[]string, format string, args ...any) {
		if len(*list) < 10 {
			*list = append(*list, fmt.Sprintf(format, args...))
		} else {
			*list = append(*list, "")
		}
	}
	for uid, rs := range recs {
		i, ok := idx[uid]
		if !ok {
			v.unknown += len(rs)
			continue
		}
		want := s.calls[i]
		sort.SliceStable(rs, func(a, b int) bool { return rs[a].At < rs[b].At })
		for j, r := range rs {
			if r.Redelivered {
				v.redeliv++
			}
			if r.Expired || r.Open {
				note(&v.half, "%s from worker %d: expired %v, open %v, %d events", uid, r.Worker, r.Expired, r.Open, r.Events)
				continue
			}
			got := []string{r.Agent, r.Direction, r.CallerID, r.Reason}
			if j > 0 && r.Redelivered && slices.Contains(got, "") {
				// A call handed over again after its predecessor settled
				// some of its events (acks are one by one: a worker or
				// node that dies midway leaves the rest), as ConsumeCalls
				// documents: the handler merges it into the first record,
				// never blanking a field. Blank fields are that; a wrong
				// value is still wrong.
				v.partial++
				for i, w := range []string{want.agent, want.direction, want.callerID, want.reason} {
					if got[i] == "" {
						got[i] = w
					}
				}
			}
			if got[0] != want.agent || got[1] != want.direction || got[2] != want.callerID || got[3] != want.reason {
				note(&v.wrong, "%s from worker %d (record %d of %d, redelivered %v, %d events): agent %s direction %q callerid %q reason %q; published %s %q %q %q",
					uid, r.Worker, j+1, len(rs), r.Redelivered, r.Events, r.Agent, r.Direction, r.CallerID, r.Reason, want.agent, want.direction, want.callerID, want.reason)
			}
			if j > 0 {
				v.dupes++
				if !r.Redelivered {
					note(&v.unmarked, "%s: record %d (worker %d) without Redelivered", uid, j+1, r.Worker)
				}
			}
		}
	}
	v.calls = len(s.calls)
	for _, c := range s.calls {
		if len(recs[c.uid]) == 0 {
			note(&v.lost, "%s (%s)", c.uid, c.agent)
		}
	}
}

// checkIntervals finds two workers handing calls over at once: the spans
// from the first to the last call of their active intervals overlap.
func (v *callVerdict) checkIntervals() {
	sort.Slice(v.intervals, func(a, b int) bool { return v.intervals[a].from.Before(v.intervals[b].from) })
	for i, a := range v.intervals {
		for _, b := range v.intervals[i+1:] {
			if a.worker == b.worker {
				continue
			}
			if a.from.Before(b.to) && b.from.Before(a.to) {
				v.activeOverlaps++
			}
			if a.calls > 0 && b.calls > 0 && !a.last.Before(b.first) && !b.last.Before(a.first) {
				v.overlaps = append(v.overlaps, fmt.Sprintf("worker %d handed calls over from %s to %s, worker %d from %s to %s",
					a.worker, a.first.Format("15:04:05.000"), a.last.Format("15:04:05.000"),
					b.worker, b.first.Format("15:04:05.000"), b.last.Format("15:04:05.000")))
			}
		}
	}
}

// measureTakeovers finds, for each kill, the first call handed over after
// it by another worker that became active after it.
func (v *callVerdict) measureTakeovers(kills []kill) {
	for _, k := range kills {
		var best time.Time
		for _, iv := range v.intervals {
			if iv.worker == k.worker || iv.calls == 0 || iv.from.Before(k.at) {
				continue
			}
			if best.IsZero() || iv.first.Before(best) {
				best = iv.first
			}
		}
		if best.IsZero() {
			v.takeoverMissing++
			continue
		}
		v.takeovers = append(v.takeovers, best.Sub(k.at))
	}
}

// errors reports every failed check on t.
func (v callVerdict) report(t *testing.T) {
	t.Helper()
	list := func(what string, l []string) {
		t.Helper()
		if len(l) > 0 {
			t.Errorf("%d %s, e.g.:\n  %s", len(l), what, strings.Join(slices.DeleteFunc(slices.Clone(l), func(s string) bool { return s == "" }), "\n  "))
		}
	}
	list("calls of "+fmt.Sprint(v.calls)+" without a record", v.lost)
	list("records whose fields differ from what was published", v.wrong)
	list("half calls (expired or open)", v.half)
	list("second records without Redelivered", v.unmarked)
	list("records outside their worker's active time", v.outside)
	list("times two workers handed calls over at once", v.overlaps)
	if v.unknown > 0 {
		t.Errorf("%d records of calls the test did not publish", v.unknown)
	}
}

// split is the records per worker, for the log.
func (v callVerdict) split() string {
	ws := make([]int, 0, len(v.perWorker))
	for w := range v.perWorker {
		ws = append(ws, w)
	}
	sort.Ints(ws)
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("w%d=%d", w, v.perWorker[w])
	}
	return strings.Join(parts, " ")
}

// durationStats returns the median and the maximum of ds.
func durationStats(ds []time.Duration) (median, maximum time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2, s[n-1]
	}
	return s[n/2], s[n-1]
}
