package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/internal/simulator"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

const usage = `Usage:
  ivctl [flags] methods                       the 41 methods with their wire argument names
  ivctl [flags] call METHOD [name=value ...]  one call (ivctl call METHOD -h: its arguments)
  ivctl [flags] help METHOD                   one method's arguments, from the reference
  ivctl [flags] events [-calls] [TOPIC ...]   events as JSON lines until interrupted (default: all agents)
  ivctl [flags] dead list|replay|purge NAME   a durable name's dead letters (ivctl dead -h)
  ivctl sim [simulator flags]                 the fake platform as a server (ivctl sim -h)

Arguments are the platform's STOMP names, in any case: accountcode=default user=1001.
A list is JSON: queues='[{"name":"7000","priority":"0"}]'; any other value is text.
Exit status: 0 success, 1 a platform return code or a failed call, 2 a usage error (nothing sent).

Flags:
`

// errUsage marks an error in how ivctl was called: exit status 2, and
// nothing sent.
var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}

// cli is one run of ivctl.
type cli struct {
	stdout io.Writer
	stderr io.Writer // safe for concurrent use (the state handler writes from its goroutine)

	stomp, soap     string
	key             string
	login, passcode string
	timeout         time.Duration
	output          string
	outputSet       bool // -o was given
	loginSet        bool
}

// run runs ivctl with args (without the program name) and returns the exit
// status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: &lockedWriter{w: stderr}}
	err := c.run(ctx, args, getenv)
	var exit exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return int(exit) // the simulator said why already
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(c.stderr, "ivctl: %s\n", printable(strings.TrimPrefix(err.Error(), errUsage.Error()+": ")))
		return 2
	case errors.Is(err, ivclient.ErrInvalidArgument), errors.Is(err, ivclient.ErrInvalidKey):
		fmt.Fprintf(c.stderr, "ivctl: %s\n", printable(err.Error())) // refused by the client's checks: nothing was sent
		return 2
	}
	var ce *codes.Error
	if errors.As(err, &ce) {
		text := ce.Description
		if text == "" {
			text = ce.Code.Description()
		}
		fmt.Fprintf(c.stderr, "%s (%d): %s\n", ce.Code, int(ce.Code), printable(text))
		return 1
	}
	fmt.Fprintf(c.stderr, "ivctl: %s\n", printable(err.Error())) // a broker's or an endpoint's text may be in it
	return 1
}

func (c *cli) run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("ivctl", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&c.stomp, "stomp", "", "the platform's STOMP broker, host:port, or a cluster's nodes comma-separated (env IV_STOMP_ADDR)")
	fs.StringVar(&c.soap, "soap", "", "the platform's IVWS endpoint, http://host:7789/ (env IV_SOAP_URL)")
	fs.StringVar(&c.key, "key", "", "the access key (env IV_KEY)")
	fs.StringVar(&c.login, "login", "", "the STOMP login (env IV_STOMP_LOGIN; default "+stompx.DefaultLogin+")")
	fs.StringVar(&c.passcode, "passcode", "", "the STOMP passcode (env IV_STOMP_PASSCODE; default the platform's)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long a call, or connecting and subscribing, may take")
	fs.StringVar(&c.output, "o", "json", "the output of a result: json or table")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err) // flag printed the usage already
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.outputSet = set["o"]
	if err := c.fromEnv(set, getenv); err != nil {
		return err
	}
	if c.output != "json" && c.output != "table" {
		return usageErr("-o %q: want json or table", c.output)
	}
	if c.timeout <= 0 {
		return usageErr("-timeout must be positive")
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return usageErr("no command")
	}
	cmd, rest := rest[0], rest[1:]
	switch cmd {
	case "methods":
		if len(rest) > 0 {
			return usageErr("methods takes no arguments")
		}
		return c.methods()
	case "help":
		if len(rest) != 1 {
			return usageErr("help takes one method: ivctl help AgentLogin")
		}
		m, err := method(rest[0])
		if err != nil {
			return err
		}
		c.help(m)
		return nil
	case "call":
		if len(rest) == 0 {
			return usageErr("call needs a method: ivctl call AgentInfo accountcode=default user=1001")
		}
		return c.call(ctx, rest[0], rest[1:])
	case "events":
		return c.events(ctx, rest)
	case "dead":
		return c.dead(ctx, rest)
	case "sim":
		if code := simulator.Main(ctx, "ivctl sim", rest, c.stdout, c.stderr); code != 0 {
			return exitError(code)
		}
		return nil
	}
	return usageErr("unknown command %q (methods, call, help, events, dead, sim)", cmd)
}

// timedOut names -timeout in an error that its deadline caused.
func (c *cli) timedOut(err error) error {
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (-timeout %v: raise it to wait longer)", err, c.timeout)
	}
	return err
}

// exitError is an exit status another part (the simulator) chose and
// reported itself.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// fromEnv fills what the flags left unset from the environment. An
// endpoint flag overrides both endpoint variables.
func (c *cli) fromEnv(set map[string]bool, getenv func(string) string) error {
	if set["stomp"] && set["soap"] {
		return usageErr("-stomp and -soap: choose one")
	}
	if !set["stomp"] && !set["soap"] {
		// Both variables set (as the simulator prints them): STOMP, as the
		// examples choose.
		if c.stomp = getenv("IV_STOMP_ADDR"); c.stomp == "" {
			c.soap = getenv("IV_SOAP_URL")
		}
	}
	if !set["key"] {
		c.key = getenv("IV_KEY")
	}
	if !set["login"] {
		c.login = getenv("IV_STOMP_LOGIN")
	}
	if !set["passcode"] {
		c.passcode = getenv("IV_STOMP_PASSCODE")
	}
	c.loginSet = c.login != "" || c.passcode != ""
	if c.login == "" {
		c.login = stompx.DefaultLogin
	}
	if c.passcode == "" {
		c.passcode = stompx.DefaultPasscode
	}
	return nil
}

// method finds a method by name, without regard to case.
func method(name string) (catalog.MethodInfo, error) {
	if m, ok := catalog.Lookup(name); ok {
		return m, nil
	}
	for _, m := range catalog.Methods() {
		if strings.EqualFold(m.Name, name) {
			return m, nil
		}
	}
	return catalog.MethodInfo{}, usageErr("unknown method %q (ivctl methods lists them)", name)
}

// call runs "ivctl call METHOD name=value ...".
func (c *cli) call(ctx context.Context, name string, args []string) error {
	m, err := method(name)
	if err != nil {
		return err
	}
	values := make(map[string]any, len(args))
	given := make(map[string]string, len(args)) // argument name -> as written
	for i, a := range args {
		switch a {
		case "-h", "-help", "--help":
			c.help(m)
			return flag.ErrHelp
		}
		if strings.HasPrefix(a, "-") { // no argument name starts with '-'
			f := a
			if !strings.Contains(a, "=") && i+1 < len(args) && !strings.Contains(args[i+1], "=") {
				f += " " + args[i+1] // its value
			}
			return usageErr("%s: flags go before the command: ivctl %s call %s ...", a, f, m.Name)
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return usageErr("%q: arguments are name=value (ivctl help %s)", a, m.Name)
		}
		arg, ok := m.Arg(k)
		if !ok {
			return usageErr("%s has no argument %q (ivctl help %s)", m.Name, k, m.Name)
		}
		if prev, dup := given[arg.Name]; dup {
			return usageErr("%s: argument %s given twice (%s= and %s=)", m.Name, arg.Name, prev, k)
		}
		given[arg.Name] = k
		// A list is JSON; any other value is text as written, "[night]
		// queue" included.
		if arg.Kind == catalog.ArgList {
			t := strings.TrimSpace(v)
			dec := json.NewDecoder(strings.NewReader(t))
			dec.UseNumber()
			var j any
			if err := dec.Decode(&j); err != nil {
				return usageErr("%s is a list, given as JSON ([{...}, ...]): %v", k, err)
			}
			if dec.More() {
				return usageErr("%s: not one JSON value", k)
			}
			values[k] = j
			continue
		}
		values[k] = v
	}
	if c.key == "" {
		return usageErr("no access key: -key or IV_KEY")
	}
	t, err := c.transport()
	if err != nil {
		return err
	}
	client, err := ivclient.New(t, c.key)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := catalog.Invoke(ctx, client, m.Name, values)
	if err != nil {
		return c.timedOut(err)
	}
	if res == nil {
		return nil
	}
	return c.print(res)
}

// transport returns the transport the flags select. It connects on the
// first call only, so that a call the client refuses dials nothing.
func (c *cli) transport() (ivclient.Transport, error) {
	switch {
	case c.stomp != "":
		if _, err := c.stompAddrs(); err != nil {
			return nil, err
		}
		return &lazyTransport{dial: func(ctx context.Context) (ivclient.Transport, error) {
			return c.dialSTOMP(ctx, stompx.WithoutReconnect())
		}}, nil
	case c.soap != "":
		t, err := soapx.New(c.soap) // checks the URL; nothing is sent before the first call
		if err != nil {
			return nil, usageErr("-soap (IV_SOAP_URL): %s", strings.TrimPrefix(err.Error(), "soapx: New: invalid argument: endpoint: "))
		}
		return t, nil
	}
	return nil, usageErr("no platform: -stomp host:port (IV_STOMP_ADDR) or -soap URL (IV_SOAP_URL)")
}

// stompAddrs returns the addresses of -stomp (IV_STOMP_ADDR): one, or the
// nodes of a cluster, comma-separated.
func (c *cli) stompAddrs() ([]string, error) {
	var addrs []string
	for _, a := range strings.Split(c.stomp, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, usageErr("-stomp (IV_STOMP_ADDR) lists no address: %q", c.stomp)
	}
	return addrs, nil
}

// dialSTOMP connects to the broker of -stomp (IV_STOMP_ADDR), trying its
// addresses in order.
func (c *cli) dialSTOMP(ctx context.Context, more ...stompx.Option) (*stompx.Transport, error) {
	addrs, err := c.stompAddrs()
	if err != nil {
		return nil, err
	}
	opts := []stompx.Option{stompx.WithAddrs(addrs[1:]...)}
	if c.loginSet {
		opts = append(opts, stompx.WithLogin(c.login, c.passcode))
	}
	return stompx.Dial(ctx, addrs[0], append(opts, more...)...)
}

// lazyTransport dials on its first call. ivctl makes one call at a time.
type lazyTransport struct {
	dial func(context.Context) (ivclient.Transport, error)
	t    ivclient.Transport
}

func (l *lazyTransport) Call(ctx context.Context, req *ivclient.Request, out any) error {
	if l.t == nil {
		t, err := l.dial(ctx)
		if err != nil {
			return err
		}
		l.t = t
	}
	return l.t.Call(ctx, req, out)
}

func (l *lazyTransport) Close() error {
	if l.t == nil {
		return nil
	}
	return l.t.Close()
}

// print writes a result as JSON, or as a table with -o table.
func (c *cli) print(res any) error {
	if v := reflect.ValueOf(res); v.Kind() == reflect.Slice && v.IsNil() {
		res = []any{} // an empty list is [], not null
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if c.output == "table" {
		return writeTable(c.stdout, b)
	}
	b = append(b, '\n')
	_, err = c.stdout.Write(b)
	return err
}

// lockedWriter serialises writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// compact returns b as one line of JSON, or nil if b is not JSON.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return nil
	}
	return buf.Bytes()
}
