package stompx_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/server"

	"github.com/instantvoice/instantvoice-go/stompx"
)

// tlsBroker runs go-stomp's server behind TLS with a fresh self-signed
// certificate for 127.0.0.1, and returns its address and a client config
// that trusts it.
func tlsBroker(t *testing.T) (string, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "stompx test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Authenticator: auth{testLogin, testPasscode}, Log: nopLogger{}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return ln.Addr().String(), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func TestTLS(t *testing.T) {
	addr, cfg := tlsBroker(t)
	ctx := ctxT(t, 10*time.Second)
	tr := dial(t, addr, stompx.WithTLS(cfg))
	if tr.State() != stompx.Connected {
		t.Fatalf("state %v", tr.State())
	}
	// Subscribing needs the broker's RECEIPT: the connection really works.
	s, err := tr.Subscribe(ctx, "/topic/iv.agents.default_1001")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	// A client that does not trust the certificate fails the handshake.
	if _, err := stompx.Dial(ctx, addr, stompx.WithTLS(nil)); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	// A handshake cut short by the context.
	sctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := stompx.Dial(sctx, silentServer(t), stompx.WithTLS(cfg)); err == nil {
		t.Fatal("silent TLS server accepted")
	}
}
