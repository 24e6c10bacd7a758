package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/cityhighway/highway/internal/testcert"
)

func TestHTTPSRedirect(t *testing.T) {
	cases := []struct {
		name, port, host, target, auth string
		status                         int
		location                       string
	}{
		{"path and query kept", "8443", "data.gov.example:8080", "/open/v1/feeds?q=aqhi", "", http.StatusPermanentRedirect, "https://data.gov.example:8443/open/v1/feeds?q=aqhi"},
		{"host without port", "8443", "data.gov.example", "/", "", http.StatusPermanentRedirect, "https://data.gov.example:8443/"},
		{"default https port", "443", "data.gov.example:80", "/api/v1/feeds", "", http.StatusPermanentRedirect, "https://data.gov.example/api/v1/feeds"},
		{"IPv6 host", "8443", "[::1]:8080", "/x", "", http.StatusPermanentRedirect, "https://[::1]:8443/x"},
		{"a token sent in clear is refused", "8443", "data.gov.example:8080", "/api/v1/feeds", "Bearer hw_secret", http.StatusForbidden, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.Host = tc.host
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			httpsRedirect(tc.port).ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("Location") != tc.location {
				t.Fatalf("got %d Location %q, want %d %q", w.Code, w.Header().Get("Location"), tc.status, tc.location)
			}
		})
	}
}

// handlerFunc is a closingHandler for listenAndServe's tests.
type handlerFunc func(http.ResponseWriter, *http.Request)

func (f handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) { f(w, r) }
func (f handlerFunc) Close()                                           {}

// TestServeHTTPSWithRedirect runs listenAndServe as serve does with
// --tls-cert, --tls-key and --http-redirect-addr: HTTPS answers on --addr,
// plain HTTP on the redirect address sends the client there.
func TestServeHTTPSWithRedirect(t *testing.T) {
	certs := testcert.New(t, "serve")
	httpsAddr, httpAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- listenAndServe(ctx, httpsAddr, handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "tls=%v path=%s", r.TLS != nil, r.URL.RequestURI())
		}), certs.Cert, certs.Key, httpAddr, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = client.Get("http://" + httpAddr + "/open/v1/feeds?q=aqhi"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("plain HTTP through the redirect: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "tls=true path=/open/v1/feeds?q=aqhi" || resp.Request.URL.Scheme != "https" {
		t.Fatalf("got %d %q at %s, want 200 from HTTPS with the path and query kept", resp.StatusCode, body, resp.Request.URL)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutting down: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
