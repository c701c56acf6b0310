// Command provisioning creates, lists, inspects, modifies and deletes what a
// partner provisions on the platform: queues, agents, agent lines, queue
// memberships, SIP users and their permission groups. It prints each step,
// and deletes everything it created before it exits, also when a step fails.
//
// With no environment it starts the in-process fake platform (package
// ivtest) and runs against it, over STOMP or (-transport soap) IVWS:
//
//	go run ./examples/provisioning
//	go run ./examples/provisioning -transport soap
//
// Against a real platform, set the broker address or the IVWS endpoint and
// the access key, and choose numbers that are free there, and permission
// groups that exist:
//
//	IV_SOAP_URL=http://acd.example.com:7789/ IV_KEY=f054bbd2f5ebab9 go run ./examples/provisioning -queue 7901 -queue2 7902 -agent 1901 -sip 1991 -group 123 -group2 456
//
// The broker login is IV_STOMP_LOGIN / IV_STOMP_PASSCODE when set (default
// the platform's); -h lists the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

type config struct {
	accountcode, transport      string
	queue, queue2, agent, sip   string
	group, group2               string
	timeout                     time.Duration
	embedded, transportExplicit bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.accountcode, "accountcode", "default", "the accountcode to provision in")
	flag.StringVar(&cfg.transport, "transport", "stomp", "stomp or soap; against a real platform, the default is the one whose address is set")
	flag.StringVar(&cfg.queue, "queue", "7015", "the extension of the first queue to create (must be free)")
	flag.StringVar(&cfg.queue2, "queue2", "7016", "the extension of the second queue to create (must be free)")
	flag.StringVar(&cfg.agent, "agent", "1001", "the number of the agent to create (must be free)")
	flag.StringVar(&cfg.sip, "sip", "1010", "the name of the SIP user to create (must be free)")
	flag.StringVar(&cfg.group, "group", "123", "a permission group of the platform")
	flag.StringVar(&cfg.group2, "group2", "456", "another permission group of the platform")
	flag.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "how long the whole run may take")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: provisioning [flags]

Creates two queues, an agent with two lines in both queues, and a SIP user;
lists, inspects and modifies them; puts the agent and the SIP user in a
permission group and moves them to another; then deletes it all.

Runs against a real platform when IV_STOMP_ADDR or IV_SOAP_URL is set: the
broker at IV_STOMP_ADDR (login IV_STOMP_LOGIN / IV_STOMP_PASSCODE, default
the platform's) or the IVWS endpoint at IV_SOAP_URL, with the access key
IV_KEY. It changes that platform: choose numbers that are free. Otherwise it
starts the in-process fake platform (package ivtest) and runs against it.

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	flag.Visit(func(f *flag.Flag) { cfg.transportExplicit = cfg.transportExplicit || f.Name == "transport" })
	if cfg.transport != "stomp" && cfg.transport != "soap" {
		fail(fmt.Errorf("-transport must be stomp or soap, not %q", cfg.transport))
	}

	ctx, cancel := exampleenv.Context(cfg.timeout)
	defer cancel()
	if err := run(ctx, &cfg); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "provisioning:", err)
	os.Exit(1)
}

// connect returns a client of the platform of the environment, or of a fake
// platform it starts, and a function that closes everything.
func connect(ctx context.Context, cfg *config) (*ivclient.Client, func(), error) {
	env, err := exampleenv.Open(ivtest.WithAccountcodes(cfg.accountcode), ivtest.WithPermissionGroups(cfg.group, cfg.group2))
	if err != nil {
		return nil, nil, err
	}
	cfg.embedded = env.Fake != nil
	if !cfg.transportExplicit && env.STOMPAddr == "" {
		cfg.transport = "soap" // the one whose address is set
	}
	c, err := env.Client(ctx, cfg.transport)
	if err != nil {
		env.Close()
		return nil, nil, fmt.Errorf("connecting over %s: %w", cfg.transport, err)
	}
	fmt.Println("connected over", cfg.transport)
	return c, func() { c.Close(); env.Close() }, nil
}

func run(ctx context.Context, cfg *config) (err error) {
	c, closeAll, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeAll()

	// Whatever happens, leave nothing behind: deleting what is already gone
	// fails with RESPONSE_NOT_FOUND, which is fine here.
	defer func() {
		if err != nil {
			cleanUpAfterFailure(c, cfg)
		}
	}()

	s := &steps{}
	for _, section := range []struct {
		title string
		do    func(context.Context, *ivclient.Client, string, *config, *steps)
	}{
		{"queues", sectionQueues},
		{"agents", sectionAgents},
		{"agent lines", sectionAgentLines},
		{"queue memberships", sectionMemberships},
		{"SIP users", sectionSipUsers},
		{"permission groups", sectionPermissions},
		{"clean up", sectionCleanUp},
	} {
		fmt.Println("==", section.title)
		section.do(ctx, c, cfg.accountcode, cfg, s)
	}
	if s.err != nil {
		return s.err
	}
	fmt.Printf("provisioning done: %d steps\n", s.n)
	return nil
}

// cleanUpAfterFailure deletes what a failed run may have made.
func cleanUpAfterFailure(c *ivclient.Client, cfg *config) {
	ac := cfg.accountcode
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, e := range []error{
		c.SipUserDelete(cctx, ac, cfg.sip),
		c.AgentDelete(cctx, ac, cfg.agent),
		c.QueueDelete(cctx, ac, cfg.queue),
		c.QueueDelete(cctx, ac, cfg.queue2),
	} {
		if e != nil && !errors.Is(e, codes.ErrNotFound) {
			fmt.Fprintln(os.Stderr, "provisioning: cleaning up:", e)
		}
	}
}

// sectionQueues adds two queues, is refused a duplicate, then lists, reads and
// modifies them.
func sectionQueues(ctx context.Context, c *ivclient.Client, ac string, cfg *config, s *steps) {
	s.do("QueueAdd "+cfg.queue, func() (any, error) {
		return nil, c.QueueAdd(ctx, ivclient.Queue{Accountcode: ac, Name: cfg.queue, Description: "Support",
			Timeout: ivclient.Ptr(120), WrapupTime: ivclient.Ptr(5)})
	})
	s.do("QueueAdd "+cfg.queue2, func() (any, error) {
		return nil, c.QueueAdd(ctx, ivclient.Queue{Accountcode: ac, Name: cfg.queue2, Description: "Sales"})
	})
	s.expect("QueueAdd "+cfg.queue+" again", codes.ErrDuplicate, func() error {
		return c.QueueAdd(ctx, ivclient.Queue{Accountcode: ac, Name: cfg.queue})
	})
	s.do("QueueList", func() (any, error) { return c.QueueList(ctx, ac) })
	s.do("QueueInfo "+cfg.queue, func() (any, error) {
		q, err := c.QueueInfo(ctx, ac, cfg.queue)
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("description=%q timeout=%d wrapuptime=%d maxlen=%d", q.Description, q.Timeout, q.WrapupTime, q.MaxLen), nil
	})
	s.do("QueueModify "+cfg.queue, func() (any, error) {
		return nil, c.QueueModify(ctx, ac, cfg.queue, ivclient.Queue{Description: "Technical support", MaxLen: ivclient.Ptr(10)})
	})
	s.do("QueueInfo "+cfg.queue, func() (any, error) {
		q, err := c.QueueInfo(ctx, ac, cfg.queue)
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("description=%q timeout=%d wrapuptime=%d maxlen=%d", q.Description, q.Timeout, q.WrapupTime, q.MaxLen), nil
	})
}

// sectionAgents adds an agent, lists, modifies and reads it.
func sectionAgents(ctx context.Context, c *ivclient.Client, ac string, cfg *config, s *steps) {
	s.do("AgentAdd "+cfg.agent, func() (any, error) {
		return nil, c.AgentAdd(ctx, ivclient.Agent{Accountcode: ac, User: cfg.agent, Pass: "1234", Name: "Alice"})
	})
	s.do("AgentList", func() (any, error) { return c.AgentList(ctx, ac) })
	s.do("AgentModify "+cfg.agent, func() (any, error) {
		return nil, c.AgentModify(ctx, ac, cfg.agent, ivclient.Agent{Name: "Alice Smith"})
	})
	s.do("AgentInfo "+cfg.agent, func() (any, error) {
		a, err := c.AgentInfo(ctx, ac, cfg.agent)
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("user=%s name=%q status=%s", a.User, a.Name, a.AgentStatus), nil
	})
}

// sectionAgentLines gives the agent two lines, changes one, and deletes it
// (the last line cannot be).
func sectionAgentLines(ctx context.Context, c *ivclient.Client, ac string, cfg *config, s *steps) {
	s.do("AgentLineAdd 1 2", func() (any, error) {
		return nil, c.AgentLineAdd(ctx, ac, cfg.agent, ivclient.Line{Number: 1},
			ivclient.Line{Number: 2, Inbound: ivclient.Ptr(false)}) // line 2 only places calls
	})
	s.do("AgentLineModify 2", func() (any, error) {
		return nil, c.AgentLineModify(ctx, ac, cfg.agent, 2, ivclient.Ptr(true), ivclient.Ptr(false))
	})
	s.do("AgentLineList", func() (any, error) { return lines(ctx, c, ac, cfg.agent) })
	s.do("AgentLineDelete 2", func() (any, error) { return nil, c.AgentLineDelete(ctx, ac, cfg.agent, 2) })
	s.expect("AgentLineDelete 1 (the only line)", codes.ErrNotAllowed, func() error {
		return c.AgentLineDelete(ctx, ac, cfg.agent, 1)
	})
	s.do("AgentLineList", func() (any, error) { return lines(ctx, c, ac, cfg.agent) })
}

// sectionMemberships puts the agent in both queues with priorities, lists
// both ways, and takes it out of one.
func sectionMemberships(ctx context.Context, c *ivclient.Client, ac string, cfg *config, s *steps) {
	s.do("AgentQueueAdd "+cfg.queue+" "+cfg.queue2, func() (any, error) {
		return nil, c.AgentQueueAdd(ctx, ac, cfg.agent,
			ivclient.QueueMembership{Name: cfg.queue, Priority: 1},
			ivclient.QueueMembership{Name: cfg.queue2, Priority: 2})
	})
	s.do("AgentQueueModify "+cfg.queue, func() (any, error) { return nil, c.AgentQueueModify(ctx, ac, cfg.agent, cfg.queue, 5) })
	s.do("AgentQueueList", func() (any, error) {
		qs, err := c.AgentQueueList(ctx, ac, cfg.agent)
		var out []string
		for _, q := range qs {
			out = append(out, fmt.Sprintf("%s(priority %d)", q.Name, q.Priority))
		}
		return out, err
	})
	s.do("AgentQueueMembers "+cfg.queue, func() (any, error) {
		ms, err := c.AgentQueueMembers(ctx, ac, cfg.queue)
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s(priority %d)", m.User, m.Priority))
		}
		return out, err
	})
	s.do("AgentQueueDelete "+cfg.queue2, func() (any, error) { return nil, c.AgentQueueDelete(ctx, ac, cfg.agent, cfg.queue2) })
}

// sectionSipUsers adds a SIP user, lists, modifies and reads it.
func sectionSipUsers(ctx context.Context, c *ivclient.Client, ac string, cfg *config, s *steps) {
	s.do("SipUserAdd "+cfg.sip, func() (any, error) {
		return nil, c.SipUserAdd(ctx, ivclient.SipUser{Accountcode: ac, Name: cfg.sip, Secret: "creative-password",
			CallLimit: ivclient.Ptr(2), Description: "Alice's desk phone"})
	})
	s.do("SipUserList", func() (any, error) { return c.SipUserList(ctx, ac) })
	s.do("SipUserModify "+cfg.sip, func() (any, error) {
		return nil, c.SipUserModify(ctx, ac, cfg.sip, ivclient.SipUser{Port: ivclient.Ptr(5070), DTMFMode: "info"})
	})
	s.do("SipUserInfo "+cfg.sip, func() (any, error) {
		u, err := c.SipUserInfo(ctx, ac, cfg.sip)
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("name=%s description=%q call-limit=%d port=%d dtmfmode=%s", u.Name, u.Description, u.CallLimit, u.Port, u.DTMFMode), nil
	})
}

// sectionPermissions puts the agent and the SIP user in permission groups,
// moves, reads and removes them.
func sectionPermissions(ctx context.Context, c *ivclient.Client, ac string, cfg *config, s *steps) {
	s.do("AgentAddPermission "+cfg.group, func() (any, error) { return nil, c.AgentAddPermission(ctx, ac, cfg.agent, cfg.group) })
	s.do("AgentModifyPermission "+cfg.group2, func() (any, error) {
		return nil, c.AgentModifyPermission(ctx, ac, cfg.agent, cfg.group2)
	})
	s.do("AgentInfoPermission", func() (any, error) { return c.AgentInfoPermission(ctx, ac, cfg.agent) })
	s.do("AgentDeletePermission", func() (any, error) { return nil, c.AgentDeletePermission(ctx, ac, cfg.agent) })
	s.expect("AgentInfoPermission (no group)", codes.ErrNotFound, func() error {
		_, err := c.AgentInfoPermission(ctx, ac, cfg.agent)
		return err
	})
	s.do("SipUserAddPermission "+cfg.group, func() (any, error) { return nil, c.SipUserAddPermission(ctx, ac, cfg.sip, cfg.group) })
	s.do("SipUserModifyPermission "+cfg.group2, func() (any, error) {
		return nil, c.SipUserModifyPermission(ctx, ac, cfg.sip, cfg.group2)
	})
	s.do("SipUserInfoPermission", func() (any, error) { return c.SipUserInfoPermission(ctx, ac, cfg.sip) })
	s.do("SipUserDeletePermission", func() (any, error) { return nil, c.SipUserDeletePermission(ctx, ac, cfg.sip) })
}

// sectionCleanUp deletes everything the run made and checks it is gone.
func sectionCleanUp(ctx context.Context, c *ivclient.Client, ac string, cfg *config, s *steps) {
	s.do("SipUserDelete "+cfg.sip, func() (any, error) { return nil, c.SipUserDelete(ctx, ac, cfg.sip) })
	s.do("AgentDelete "+cfg.agent, func() (any, error) { return nil, c.AgentDelete(ctx, ac, cfg.agent) })
	s.do("QueueDelete "+cfg.queue, func() (any, error) { return nil, c.QueueDelete(ctx, ac, cfg.queue) })
	s.do("QueueDelete "+cfg.queue2, func() (any, error) { return nil, c.QueueDelete(ctx, ac, cfg.queue2) })
	s.expect("QueueInfo "+cfg.queue+" (deleted)", codes.ErrNotFound, func() error {
		_, err := c.QueueInfo(ctx, ac, cfg.queue)
		return err
	})
	if cfg.embedded { // a real platform may have other queues and agents
		s.do("QueueList", func() (any, error) { return c.QueueList(ctx, ac) })
		s.do("AgentList", func() (any, error) { return c.AgentList(ctx, ac) })
	}
}

func lines(ctx context.Context, c *ivclient.Client, accountcode, agent string) ([]string, error) {
	ls, err := c.AgentLineList(ctx, accountcode, agent)
	var out []string
	for _, l := range ls {
		out = append(out, fmt.Sprintf("%d(inbound=%v outbound=%v)", l.Number, l.Inbound, l.Outbound))
	}
	return out, err
}

// steps runs the steps one after the other, printing each, until one fails.
type steps struct {
	n   int
	err error
}

// do runs f unless a step failed, and prints its name and result.
func (s *steps) do(name string, f func() (any, error)) {
	if s.err != nil {
		return
	}
	s.n++
	v, err := f()
	if err != nil {
		s.err = fmt.Errorf("%s: %w", name, err)
		return
	}
	if v == nil {
		fmt.Printf("%s: ok\n", name)
		return
	}
	fmt.Printf("%s: %v\n", name, v)
}

// expect runs f unless a step failed, and checks that it fails with want.
func (s *steps) expect(name string, want error, f func() error) {
	s.do(name, func() (any, error) {
		err := f()
		var ce *codes.Error
		if errors.Is(err, want) && errors.As(err, &ce) {
			return fmt.Sprintf("%s, as expected", ce.Code), nil
		}
		if err == nil {
			return nil, fmt.Errorf("succeeded, want %v", want)
		}
		return nil, err
	})
}
