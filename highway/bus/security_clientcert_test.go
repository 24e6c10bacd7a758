package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA, with the client's files on disk.
type testPKI struct {
	pool                      *x509.CertPool
	server                    tls.Certificate
	caFile, certFile, keyFile string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert, caDER := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}, nil, nil)
	srvKey, _, srvDER := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "broker"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, caCert, caKey)
	cliKey, _, cliDER := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "highway-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, caCert, caKey)
	p := testPKI{pool: x509.NewCertPool(), caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client.key")}
	p.pool.AddCert(caCert)
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	writePEM(t, p.certFile, "CERTIFICATE", cliDER)
	der, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.keyFile, "EC PRIVATE KEY", der)
	return p
}

var serial int64

// makeCert signs tmpl with parent's key (itself when parent is nil).
func makeCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientCertListener is a TLS listener that requires a client certificate
// signed by the test CA (as ssl.client.auth=required does on a broker) and
// sends, for each connection, the client certificate's common name or the
// handshake's error.
func clientCertListener(t *testing.T, p testPKI) (string, <-chan string, <-chan error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	names, errs := make(chan string, 8), make(chan error, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err != nil {
				errs <- err
			} else {
				names <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			}
			tc.Close()
		}
	}()
	return ln.Addr().String(), names, errs
}

// TestClientCertificatePresented is a unit test (a Go TLS listener, not a
// broker): the client certificate of --kafka-tls-cert/--kafka-tls-key is
// loaded and presented on the own fetch path (dialBroker) and by the
// kafka-go dialer (metadata, consumer groups), and a listener requiring one
// refuses the same client without it.
func TestClientCertificatePresented(t *testing.T) {
	p := newTestPKI(t)
	withCert, err := Security{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}.build()
	if err != nil {
		t.Fatal(err)
	}
	noCert, err := Security{CAFile: p.caFile}.build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dials := []struct {
		name string
		dial func(addr string, sec security) error
	}{
		{"own fetch path", func(addr string, sec security) error {
			c, err := dialBroker(ctx, addr, sec)
			if err == nil {
				c.Close()
			}
			return err
		}},
		{"kafka-go dialer", func(addr string, sec security) error {
			dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			c, err := sec.dialer().DialContext(dctx, "tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		}},
	}
	for _, d := range dials {
		t.Run(d.name, func(t *testing.T) {
			addr, names, errs := clientCertListener(t, p)
			_ = d.dial(addr, withCert) // the listener closes after the handshake
			select {
			case cn := <-names:
				if cn != "highway-client" {
					t.Errorf("the listener saw client %q, want highway-client", cn)
				}
			case err := <-errs:
				t.Fatalf("the listener refused the client with its certificate: %v", err)
			case <-time.After(5 * time.Second):
				t.Fatal("no handshake within 5 s")
			}
			_ = d.dial(addr, noCert)
			select {
			case cn := <-names:
				t.Errorf("the listener accepted a client without a certificate (%q)", cn)
			case err := <-errs:
				t.Logf("without a certificate: %v", err)
			case <-time.After(5 * time.Second):
				t.Fatal("no handshake within 5 s")
			}
		})
	}
}
