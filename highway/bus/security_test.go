package bus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/internal/testcert"
	"github.com/twmb/franz-go/pkg/kfake"
)

// secureCluster starts a one-broker kfake cluster with a TLS listener
// whose certificate certs' CA signed, and SASL user alice/secret for
// mechanism.
func secureCluster(t *testing.T, certs testcert.Files, mechanism string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.TLS(certs.Server(t)),
		kfake.EnableSASL(), kfake.Superuser(mechanism, "alice", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// TestEveryPathOverSASLSSL runs each path of the bus (topic creation,
// metadata, produce, dead letters, consumer group with the own fetch
// connections, commits, ReadAll, the live tail) over TLS with SASL PLAIN
// and SCRAM-SHA-512. Broken once: with the own fetch connections left
// plaintext (dialBroker without its TLS handshake) ReadAll failed with
// "connecting to ..., the leader of secure.test/0: SASL handshake: EOF".
func TestEveryPathOverSASLSSL(t *testing.T) {
	certs := testcert.New(t, "kafka test CA")
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			brokers := secureCluster(t, certs, mech)
			everyPath(t, brokers, bus.Security{CAFile: certs.CA, SASLMechanism: mech, SASLUser: "alice", SASLPassword: "secret"})
		})
	}
}

// everyPath runs each path of the bus over brokers with sec.
func everyPath(t *testing.T, brokers []string, sec bus.Security) {
	t.Helper()
	b, err := bus.New(bus.Config{Brokers: brokers, Logger: slog.New(slog.DiscardHandler), SessionTimeout: 6 * time.Second, Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.CheckSecurity(ctx); err != nil {
		t.Fatal(err)
	}
	topic, group, n := fmt.Sprintf("secure.test.%d", time.Now().UnixNano()), fmt.Sprintf("secure.group.%d", time.Now().UnixNano()), 500
	if err := b.EnsureTopics(ctx, 2, topic, topic+".dlq"); err != nil {
		t.Fatal(err)
	}
	p := b.NewProducer()
	defer p.Close()
	var msgs []bus.Message
	for i := range n {
		msgs = append(msgs, bus.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%10), Value: fmt.Appendf(nil, "%d", i)})
	}
	if err := p.Produce(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := p.SendDeadLetters(ctx, msgs[:1], []string{"test"}); err != nil {
		t.Fatalf("dead letters: %v", err)
	}
	all, err := b.ReadAll(ctx, topic)
	if err != nil || len(all) != n {
		t.Fatalf("ReadAll: %d messages, %v", len(all), err)
	}
	tailed := 0
	tctx, tcancel := context.WithCancel(ctx)
	// A record every half second until the tail sees one: on a loaded
	// machine the tail may find the topic's end after the first.
	go func() {
		for tick := time.NewTicker(500 * time.Millisecond); ; {
			select {
			case <-tctx.Done():
				tick.Stop()
				return
			case <-tick.C:
				_ = p.Produce(tctx, msgs[:1]...)
			}
		}
	}()
	if err := b.Tail(tctx, topic, func(bus.Message) error { tailed++; tcancel(); return nil }); err != nil && tctx.Err() == nil {
		t.Fatalf("tail: %v", err)
	}
	if tailed == 0 {
		t.Fatal("the tail saw nothing")
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	cctx, ccancel := context.WithCancel(ctx)
	err = b.Consume(cctx, group, topic, func(ctx context.Context, c *bus.Claim) error {
		for ctx.Err() == nil {
			got, err := c.Fetch(ctx, 500, 1<<20, 20*time.Millisecond)
			if err != nil {
				return err
			}
			if err := c.Commit(got[len(got)-1].Offset + 1); err != nil {
				return err
			}
			mu.Lock()
			for _, m := range got {
				seen[string(m.Value)] = true
			}
			if len(seen) == n {
				ccancel()
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil || len(seen) != n {
		t.Fatalf("consume: %d of %d read, %v", len(seen), n, err)
	}
	committed, err := b.CommittedOffsets(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := b.EndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 2 || len(ends) != 2 {
		t.Fatalf("committed %v, ends %v", committed, ends)
	}
}

// TestSecurityRefusedAtStart: a wrong password and a CA that did not sign
// the broker's certificate fail CheckSecurity with a *SecurityError that
// names the broker and what to check. Broken once: with classify
// returning errors as they are, both cases failed errors.As.
func TestSecurityRefusedAtStart(t *testing.T) {
	certs := testcert.New(t, "kafka test CA")
	other := testcert.New(t, "another CA")
	for _, tc := range []struct {
		name string
		mech string
		sec  bus.Security
		want []string
	}{
		{"wrong password scram", "SCRAM-SHA-512", bus.Security{CAFile: certs.CA, SASLMechanism: "SCRAM-SHA-512", SASLUser: "alice", SASLPassword: "wrong"},
			[]string{"SASL authentication failed for user \"alice\"", "--kafka-sasl-password"}},
		{"wrong password plain", "PLAIN", bus.Security{CAFile: certs.CA, SASLMechanism: "PLAIN", SASLUser: "alice", SASLPassword: "wrong"},
			[]string{"SASL authentication failed for user \"alice\"", "--kafka-sasl-user"}},
		{"untrusted CA", "PLAIN", bus.Security{CAFile: other.CA, SASLMechanism: "PLAIN", SASLUser: "alice", SASLPassword: "secret"},
			[]string{"x509: certificate signed by unknown authority", "--kafka-tls-ca"}},
		{"mechanism not enabled", "PLAIN", bus.Security{CAFile: certs.CA, SASLMechanism: "SCRAM-SHA-512", SASLUser: "alice", SASLPassword: "secret"},
			// kfake offers every mechanism and refuses the user; Kafka
			// answers UnsupportedSaslMechanism (sasl.enabled.mechanisms).
			[]string{"--kafka-sasl-user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brokers := secureCluster(t, certs, tc.mech)
			b, err := bus.New(bus.Config{Brokers: brokers, Logger: slog.New(slog.DiscardHandler), Security: tc.sec})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = b.CheckSecurity(ctx)
			var se *bus.SecurityError
			if !errors.As(err, &se) {
				t.Fatalf("CheckSecurity: %v, want a *bus.SecurityError", err)
			}
			msg := err.Error()
			for _, w := range append(tc.want, "kafka at "+brokers[0]) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestSecurityConfigRefused: settings that cannot work fail New.
func TestSecurityConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		sec  bus.Security
		want string
	}{
		{bus.Security{SASLMechanism: "GSSAPI", SASLUser: "a"}, "unknown SASL mechanism"},
		{bus.Security{SASLMechanism: "PLAIN"}, "needs a user"},
		{bus.Security{SASLUser: "a"}, "without a mechanism"},
		{bus.Security{CertFile: "c.pem"}, "both --kafka-tls-cert and --kafka-tls-key"},
		{bus.Security{CAFile: "/nonexistent/ca.pem"}, "reading the Kafka CA bundle"},
	} {
		_, err := bus.New(bus.Config{Brokers: []string{"127.0.0.1:1"}, Security: tc.sec})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.sec, err, tc.want)
		}
	}
}
