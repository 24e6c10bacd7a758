package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/segmentio/kafka-go"
	kafkasasl "github.com/segmentio/kafka-go/sasl"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Security says how connections to Kafka are encrypted and authenticated.
// It is one definition for every path of the package: the producer
// (franz-go), the own fetch connections (fetch.go), kafka-go's consumer
// group, metadata and admin requests, the dead-letter topics and the live
// tail. The zero value is plaintext without SASL.
type Security struct {
	// TLS turns TLS on. It is implied by CAFile, CertFile and KeyFile.
	// Without CAFile the system's roots verify the brokers.
	TLS bool
	// CAFile is a PEM bundle of the certificate authorities that sign the
	// brokers' certificates (Kafka's ssl.truststore).
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that ask for one (ssl.client.auth=required); both or neither.
	CertFile string
	KeyFile  string
	// SASLMechanism is "" (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	// (Kafka's sasl.mechanism), case-insensitive.
	SASLMechanism string
	// SASLUser and SASLPassword are the SASL credentials.
	SASLUser     string
	SASLPassword string
}

// Flag names the errors of this file point at: the flags of every highway
// command that reaches Kafka (cmd/highway/flags_kafka.go).
const (
	hintCA   = "pass the CA that signed the brokers' certificates with --kafka-tls-ca (HIGHWAY_KAFKA_TLS_CA)"
	hintSASL = "check --kafka-sasl-user and --kafka-sasl-password (HIGHWAY_KAFKA_SASL_USER, HIGHWAY_KAFKA_SASL_PASSWORD or _PASSWORD_FILE)"
)

// security is a validated Security, built once by New.
type security struct {
	tls  *tls.Config    // nil: plaintext
	mech sasl.Mechanism // nil: no SASL
	user string
}

// build validates s and loads its files.
func (s Security) build() (security, error) {
	var out security
	if s.TLS || s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return out, fmt.Errorf("bus: reading the Kafka CA bundle: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return out, fmt.Errorf("bus: the Kafka CA bundle %s holds no PEM certificate", s.CAFile)
			}
			cfg.RootCAs = pool
		}
		if (s.CertFile == "") != (s.KeyFile == "") {
			return out, fmt.Errorf("bus: a Kafka client certificate needs both --kafka-tls-cert and --kafka-tls-key (got cert %q, key %q)", s.CertFile, s.KeyFile)
		}
		if s.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
			if err != nil {
				return out, fmt.Errorf("bus: loading the Kafka client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		out.tls = cfg
	}
	switch m := strings.ToUpper(s.SASLMechanism); m {
	case "":
		if s.SASLUser != "" {
			return out, fmt.Errorf("bus: a SASL user (%q) without a mechanism: pass --kafka-sasl-mechanism PLAIN or SCRAM-SHA-512", s.SASLUser)
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if s.SASLUser == "" {
			return out, fmt.Errorf("bus: SASL %s needs a user: pass --kafka-sasl-user", m)
		}
		out.user = s.SASLUser
		switch m {
		case "PLAIN":
			out.mech = plain.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsMechanism()
		case "SCRAM-SHA-256":
			out.mech = scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha256Mechanism()
		default:
			out.mech = scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha512Mechanism()
		}
	default:
		return out, fmt.Errorf("bus: unknown SASL mechanism %q; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASLMechanism)
	}
	return out, nil
}

// tlsFor is the TLS config of a connection to addr (host:port), nil for
// plaintext: the broker's certificate is checked against its host name.
func (s security) tlsFor(addr string) *tls.Config {
	if s.tls == nil {
		return nil
	}
	c := s.tls.Clone()
	if c.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			c.ServerName = host
		}
	}
	return c
}

// dialer is the kafka-go dialer of the package's metadata and leader
// look-ups and of its consumer groups.
func (s security) dialer() *kafka.Dialer {
	d := &kafka.Dialer{Timeout: dialTimeout, DualStack: true, TLS: s.tls}
	if s.mech != nil {
		d.SASLMechanism = kafkaMechanism{s.mech}
	}
	return d
}

// kafkaMechanism runs a franz-go SASL mechanism for kafka-go, so both
// clients (and the own fetch connections) authenticate with the same code.
type kafkaMechanism struct{ m sasl.Mechanism }

func (k kafkaMechanism) Name() string { return k.m.Name() }

func (k kafkaMechanism) Start(ctx context.Context) (kafkasasl.StateMachine, []byte, error) {
	host := ""
	if md := kafkasasl.MetadataFromContext(ctx); md != nil {
		host = md.Host
	}
	sess, first, err := k.m.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	return kafkaSession{sess}, first, nil
}

type kafkaSession struct{ s sasl.Session }

func (k kafkaSession) Next(_ context.Context, challenge []byte) (bool, []byte, error) {
	return k.s.Challenge(challenge)
}

// SecurityError says a broker refused this client's credentials or this
// client refused the broker's certificate: retrying cannot help, so
// commands fail at start with it (see Bus.CheckSecurity).
type SecurityError struct {
	Addr string // the broker, host:port
	Err  error
	Hint string // what to check
}

func (e *SecurityError) Error() string {
	return fmt.Sprintf("kafka at %s: %v: %s", e.Addr, e.Err, e.Hint)
}

func (e *SecurityError) Unwrap() error { return e.Err }

// classify turns an error of connecting to addr into a *SecurityError when
// it says the certificate or the credentials were refused, and returns
// other errors as they are.
func (s security) classify(addr string, err error) error {
	if err == nil {
		return nil
	}
	var se *SecurityError
	if errors.As(err, &se) {
		return err
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown), errors.As(err, &verify) && errors.As(verify.Err, &unknown):
		return &SecurityError{Addr: addr, Err: err, Hint: hintCA}
	case errors.As(err, &host):
		return &SecurityError{Addr: addr, Err: err, Hint: "the broker's certificate does not name the address it is reached at; use a broker address its certificate lists"}
	case errors.As(err, &invalid):
		return &SecurityError{Addr: addr, Err: err, Hint: "the broker's certificate is not valid (expired, or not for a server)"}
	case errors.As(err, &verify):
		return &SecurityError{Addr: addr, Err: err, Hint: hintCA}
	case errors.As(err, &rec):
		return &SecurityError{Addr: addr, Err: err, Hint: "the listener does not speak TLS: drop --kafka-tls-* or use the broker's SSL/SASL_SSL port"}
	case errors.Is(err, kafka.SASLAuthenticationFailed), errors.Is(err, errSASLClosed):
		return &SecurityError{Addr: addr, Err: fmt.Errorf("SASL authentication failed for user %q: %w", s.user, err), Hint: hintSASL}
	case errors.Is(err, kafka.UnsupportedSASLMechanism), errors.Is(err, kafka.IllegalSASLState):
		return &SecurityError{Addr: addr, Err: err, Hint: "the listener does not enable this SASL mechanism: check --kafka-sasl-mechanism against the broker's sasl.enabled.mechanisms"}
	}
	return err
}

// CheckSecurity connects to the bootstrap brokers as Config.Security says,
// one after the other until one accepts, and returns the *SecurityError of
// a refused certificate or refused credentials, which no retry can mend:
// commands call it at start so that a wrong password or an untrusted CA
// fails there, naming the broker and what to check, rather than as a
// retried error in the logs. Brokers that cannot be reached are not its
// concern (the paths that need them retry): then it returns nil.
func (b *Bus) CheckSecurity(ctx context.Context) error {
	if b.sec.tls == nil && b.sec.mech == nil {
		return nil
	}
	for _, addr := range b.cfg.Brokers {
		conn, err := dialBroker(ctx, addr, b.sec)
		if err == nil {
			conn.Close()
			return nil
		}
		var se *SecurityError
		if errors.As(err, &se) {
			return err
		}
		b.cfg.Logger.Debug("kafka: checking the connection's security", "broker", addr, "err", err)
	}
	return nil
}
