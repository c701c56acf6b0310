package ivclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// The helpers of the examples in example_test.go: they start the fake
// platform and a client for it, so that each example shows the method it
// documents and little else. A partner's program does the same with
// stompx.Dial (or soapx.New) and ivclient.New, as Example and Example_soap
// show in full.

// exampleTimeout bounds every example: when it passes, the client is closed,
// so that a call or a wait for an event ends (and the example fails on its
// output) instead of hanging the test binary.
const exampleTimeout = 20 * time.Second

// newExampleClient starts a fake platform with opts (and the accountcode
// "default") and returns a client for it over STOMP, the platform, and a
// function that closes both.
func newExampleClient(opts ...ivtest.Option) (*ivclient.Client, *ivtest.Platform, func()) {
	return newExample(func(ctx context.Context, p *ivtest.Platform) (ivclient.Transport, error) {
		return stompx.Dial(ctx, p.STOMPAddr())
	}, opts)
}

// newExampleEvents is newExampleClient that also returns the client's STOMP
// transport, whose Subscribe delivers the call events.
func newExampleEvents(opts ...ivtest.Option) (*ivclient.Client, *stompx.Transport, func()) {
	c, _, t, done := newExampleEventsPlatform(opts...)
	return c, t, done
}

// newExampleEventsPlatform is newExampleEvents that also returns the
// platform.
func newExampleEventsPlatform(opts ...ivtest.Option) (*ivclient.Client, *ivtest.Platform, *stompx.Transport, func()) {
	var st *stompx.Transport
	c, p, done := newExample(func(ctx context.Context, p *ivtest.Platform) (ivclient.Transport, error) {
		t, err := stompx.Dial(ctx, p.STOMPAddr())
		st = t
		return t, err
	}, opts)
	return c, p, st, done
}

// newExampleSOAPClient is newExampleClient over SOAP (the platform's IVWS).
func newExampleSOAPClient(opts ...ivtest.Option) (*ivclient.Client, *ivtest.Platform, func()) {
	return newExample(func(_ context.Context, p *ivtest.Platform) (ivclient.Transport, error) {
		return soapx.New(p.SOAPURL())
	}, opts)
}

func newExample(dial func(context.Context, *ivtest.Platform) (ivclient.Transport, error), opts []ivtest.Option) (*ivclient.Client, *ivtest.Platform, func()) {
	// A fixed clock keeps the platform's uniqueids and status times stable.
	opts = append([]ivtest.Option{ivtest.WithClock(func() time.Time { return time.Unix(1700000000, 0) })}, opts...)
	p, err := ivtest.Start(opts...)
	if err != nil {
		log.Fatalf("starting the fake platform: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := dial(ctx, p)
	if err != nil {
		p.Close()
		log.Fatalf("connecting to the fake platform: %v", err)
	}
	c, err := ivclient.New(t, p.Key())
	if err != nil {
		t.Close()
		p.Close()
		log.Fatalf("creating the client: %v", err)
	}
	watchdog := time.AfterFunc(exampleTimeout, func() {
		log.Printf("example timed out after %v: closing the client", exampleTimeout)
		c.Close()
	})
	return c, p, func() {
		watchdog.Stop()
		c.Close()
		p.Close()
	}
}

// startTLSProxy listens for TLS on a free loopback port and forwards every
// connection, decrypted, to addr: what stunnel, HAProxy or a load balancer
// does in front of a broker that speaks plain STOMP (as the fake platform's
// does). It returns the proxy's address, the pool of the self-signed
// certificate authority that a client needs to verify the proxy, and a
// function that stops the proxy and closes its connections.
func startTLSProxy(addr string) (string, *x509.CertPool, func()) {
	cert, pool, err := selfSignedCert()
	if err != nil {
		log.Fatalf("TLS proxy: %v", err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		log.Fatalf("TLS proxy: %v", err)
	}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		done  bool
	)
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if done {
			c.Close()
			return false
		}
		conns[c] = struct{}{}
		return true
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			front, err := ln.Accept()
			if err != nil {
				return // the listener was closed
			}
			if !track(front) {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer front.Close()
				back, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil || !track(back) {
					return
				}
				defer back.Close()
				var pipes sync.WaitGroup
				pipes.Add(2)
				go func() { defer pipes.Done(); io.Copy(back, front); back.Close() }()
				go func() { defer pipes.Done(); io.Copy(front, back); front.Close() }()
				pipes.Wait()
			}()
		}
	}()

	stop := func() {
		ln.Close()
		mu.Lock()
		done = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
	return ln.Addr().String(), pool, stop
}

// selfSignedCert makes a certificate for 127.0.0.1 that is its own authority.
func selfSignedCert() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "InstantVoice example broker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// agentInQueues seeds a platform with agent 1001 in queues 7015 (priority 1)
// and 7016 (priority 0), then applies more.
func agentInQueues(more ...ivtest.Option) []ivtest.Option {
	return append([]ivtest.Option{
		ivtest.WithQueue("default", "7015"),
		ivtest.WithQueue("default", "7016"),
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": "default", "user": "1001",
			"queues": []any{map[string]any{"name": "7015", "priority": "1"}, map[string]any{"name": "7016", "priority": "0"}}}),
	}, more...)
}

// agentInGroup seeds a platform with the permission groups 123 and 456 and
// agent 1001 in group 123, then applies more.
func agentInGroup(more ...ivtest.Option) []ivtest.Option {
	return append([]ivtest.Option{
		ivtest.WithPermissionGroups("123", "456"),
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithSeed("AgentAddPermission", map[string]any{"accountcode": "default", "user": "1001", "location": "123"}),
	}, more...)
}

// sipUserInGroup seeds a platform with the permission groups 123 and 456 and
// SIP user 1010 in group 123.
func sipUserInGroup() []ivtest.Option {
	return []ivtest.Option{
		ivtest.WithPermissionGroups("123", "456"),
		ivtest.WithSipUser("default", "1010"),
		ivtest.WithSeed("SipUserAddPermission", map[string]any{"accountcode": "default", "name": "1010", "location": "123"}),
	}
}
