package store

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// WithDatabase returns dsn (clickhouse://host:port/database?options) made to
// point at database db, keeping its host, credentials and options.
func WithDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
		return "", fmt.Errorf("ClickHouse DSN %q: want clickhouse://host:9000/database", dsn)
	}
	u.Path, u.RawPath = "/"+db, ""
	return u.String(), nil
}

// parseDSN parses dsn as clickhouse-go does (secure=true: the secure native
// port over TLS, verified with the system's roots; skip_verify=true: not
// verified), plus tls_ca=/path/ca.pem: a PEM bundle of the CAs that sign
// the server's certificate, which implies secure=true. It is the one place
// the store reads a DSN.
func parseDSN(dsn string) (*clickhouse.Options, error) {
	var ca string
	if u, err := url.Parse(dsn); err == nil {
		q := u.Query()
		if ca = q.Get("tls_ca"); ca != "" {
			q.Del("tls_ca")
			u.RawQuery = q.Encode()
			dsn = u.String()
		}
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing ClickHouse DSN %q (want clickhouse://host:9000/database, with ?secure=true&tls_ca=/path/ca.pem for TLS): %w", redact(dsn), err)
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("reading the ClickHouse CA bundle (tls_ca in the DSN): %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the ClickHouse CA bundle %s (tls_ca in the DSN) holds no PEM certificate", ca)
		}
		if opts.TLS == nil {
			opts.TLS = &tls.Config{}
		}
		opts.TLS.RootCAs = pool
	}
	if opts.TLS != nil && opts.TLS.MinVersion == 0 {
		opts.TLS.MinVersion = tls.VersionTLS12
	}
	return opts, nil
}

// redact is dsn without its password.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// connectError says what to check when connecting to the ClickHouse at
// addrs as user failed: an untrusted certificate, a port that does not
// speak TLS, refused credentials; other errors as they are.
func connectError(addrs []string, user string, err error) error {
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var host x509.HostnameError
	var rec tls.RecordHeaderError
	var ex *proto.Exception
	hint := ""
	switch {
	case errors.As(err, &unknown), errors.As(err, &verify):
		hint = "pass the CA that signed the server's certificate with tls_ca=/path/ca.pem in the DSN (--clickhouse, HIGHWAY_CLICKHOUSE)"
	case errors.As(err, &host):
		hint = "the server's certificate does not name the DSN's host; use a host it lists"
	case errors.As(err, &rec):
		hint = "the port does not speak TLS: use the server's tcp_port_secure with secure=true, or drop secure/tls_ca for the plain tcp_port"
	case errors.As(err, &ex) && (ex.Code == 516 || ex.Code == 192 || ex.Code == 193):
		hint = fmt.Sprintf("authentication failed for user %q: check the user and password in the DSN (--clickhouse, HIGHWAY_CLICKHOUSE)", user)
	case errors.Is(err, io.EOF):
		hint = "the server closed the connection: a TLS port reached without secure=true?"
	case errors.As(err, new(*net.OpError)):
		hint = "no ClickHouse answers there: is it running, and is this its native port (9000, or tcp_port_secure with secure=true)? `ops/services up` starts one"
	default:
		return fmt.Errorf("clickhouse at %v: %w", addrs, err)
	}
	return fmt.Errorf("clickhouse at %v: %w: %s", addrs, err, hint)
}
