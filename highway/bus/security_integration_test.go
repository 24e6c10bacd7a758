//go:build integration

package bus_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/internal/testcert"
	"github.com/cityhighway/highway/internal/testenv"
)

// TestEveryPathOverSASLSSLKafka runs every path of the bus on Apache
// Kafka's SASL_SSL listener (ops/kafka/start KAFKA_SECURITY=sasl_ssl), with
// PLAIN and with SCRAM-SHA-512.
func TestEveryPathOverSASLSSLKafka(t *testing.T) {
	k := testenv.SASLSSLKafka(t)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			everyPath(t, k.Brokers, bus.Security{CAFile: k.CA, SASLMechanism: mech, SASLUser: k.User, SASLPassword: k.Password})
		})
	}
}

// TestSASLSSLKafkaRefusesAtStart: Kafka's answers to a wrong password
// (SaslAuthenticate error 58) and a CA that did not sign its certificate
// are *SecurityError naming the broker and what to check.
func TestSASLSSLKafkaRefusesAtStart(t *testing.T) {
	k := testenv.SASLSSLKafka(t)
	other := testcert.New(t, "another CA")
	for _, tc := range []struct {
		name string
		sec  bus.Security
		want []string
	}{
		{"wrong password SCRAM-SHA-512", bus.Security{CAFile: k.CA, SASLMechanism: "SCRAM-SHA-512", SASLUser: k.User, SASLPassword: "wrong"},
			[]string{"SASL authentication failed for user \"" + k.User + "\"", "--kafka-sasl-password"}},
		{"wrong password PLAIN", bus.Security{CAFile: k.CA, SASLMechanism: "PLAIN", SASLUser: k.User, SASLPassword: "wrong"},
			[]string{"SASL authentication failed for user \"" + k.User + "\"", "--kafka-sasl-password"}},
		{"mechanism not enabled", bus.Security{CAFile: k.CA, SASLMechanism: "SCRAM-SHA-256", SASLUser: k.User, SASLPassword: k.Password},
			[]string{"sasl.enabled.mechanisms", "PLAIN"}},
		{"untrusted CA", bus.Security{CAFile: other.CA, SASLMechanism: "SCRAM-SHA-512", SASLUser: k.User, SASLPassword: k.Password},
			[]string{"x509: certificate signed by unknown authority", "--kafka-tls-ca"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := bus.New(bus.Config{Brokers: k.Brokers, Logger: slog.New(slog.DiscardHandler), Security: tc.sec})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = b.CheckSecurity(ctx)
			var se *bus.SecurityError
			if !errors.As(err, &se) {
				t.Fatalf("CheckSecurity: %v, want a *bus.SecurityError", err)
			}
			t.Logf("%v", err)
			for _, w := range append(tc.want, "kafka at "+k.Brokers[0]) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
