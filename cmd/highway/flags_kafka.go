package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/cityhighway/highway/highway/bus"
)

// topicFlags are the flags of the commands that create topics: how the
// topics are replicated.
type topicFlags struct {
	replicationFactor int
	minInsync         int
}

func (t *topicFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&t.replicationFactor, "replication-factor", 0,
		fmt.Sprintf("replication factor of topics this command creates; 0 derives it from the cluster, min(%d, brokers)", bus.MaxDerivedReplicationFactor))
	fs.IntVar(&t.minInsync, "min-insync-replicas", 0,
		"min.insync.replicas of topics this command creates (producers use acks=all); 0 derives it: the replication factor - 1 when that is 3 or more, else the broker's default")
}

// config is the bus.Config of the comma-separated brokers with these flags.
func (t *topicFlags) config(brokers string, log *slog.Logger) bus.Config {
	return bus.Config{Brokers: strings.Split(brokers, ","), Logger: log, ReplicationFactor: t.replicationFactor, MinInsyncReplicas: t.minInsync}
}

// kafkaSecurity are the flags, shared by every command that reaches Kafka,
// of how its connections are encrypted and authenticated (bus.Security).
// Each defaults to an environment variable.
type kafkaSecurity struct {
	tls          bool
	ca           string
	cert, key    string
	mechanism    string
	user         string
	password     string
	passwordFile string
}

func (k *kafkaSecurity) register(fs *flag.FlagSet) {
	fs.BoolVar(&k.tls, "kafka-tls", envOr("HIGHWAY_KAFKA_TLS", "") == "true",
		"reach Kafka over TLS, verified with the system's roots unless --kafka-tls-ca is given; implied by the other --kafka-tls-* flags (default $HIGHWAY_KAFKA_TLS=true)")
	fs.StringVar(&k.ca, "kafka-tls-ca", envOr("HIGHWAY_KAFKA_TLS_CA", ""),
		"PEM bundle of the CAs that signed the brokers' certificates; turns TLS on (default $HIGHWAY_KAFKA_TLS_CA)")
	fs.StringVar(&k.cert, "kafka-tls-cert", envOr("HIGHWAY_KAFKA_TLS_CERT", ""),
		"PEM client certificate, for brokers with ssl.client.auth=required; with --kafka-tls-key (default $HIGHWAY_KAFKA_TLS_CERT)")
	fs.StringVar(&k.key, "kafka-tls-key", envOr("HIGHWAY_KAFKA_TLS_KEY", ""),
		"PEM key of --kafka-tls-cert (default $HIGHWAY_KAFKA_TLS_KEY)")
	fs.StringVar(&k.mechanism, "kafka-sasl-mechanism", envOr("HIGHWAY_KAFKA_SASL_MECHANISM", ""),
		"SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: no SASL. Use with TLS (a SASL_SSL listener): PLAIN sends the password as it is (default $HIGHWAY_KAFKA_SASL_MECHANISM)")
	fs.StringVar(&k.user, "kafka-sasl-user", envOr("HIGHWAY_KAFKA_SASL_USER", ""),
		"SASL user (default $HIGHWAY_KAFKA_SASL_USER)")
	fs.StringVar(&k.password, "kafka-sasl-password", "",
		"SASL password; prefer $HIGHWAY_KAFKA_SASL_PASSWORD or --kafka-sasl-password-file, which other users cannot read in the process list")
	fs.StringVar(&k.passwordFile, "kafka-sasl-password-file", envOr("HIGHWAY_KAFKA_SASL_PASSWORD_FILE", ""),
		"file holding the SASL password (one line; a trailing newline is dropped) (default $HIGHWAY_KAFKA_SASL_PASSWORD_FILE)")
}

// security is the bus.Security of the flags: the password from
// --kafka-sasl-password, else $HIGHWAY_KAFKA_SASL_PASSWORD, else the file.
func (k *kafkaSecurity) security() (bus.Security, error) {
	pass := k.password
	if pass == "" {
		pass = os.Getenv("HIGHWAY_KAFKA_SASL_PASSWORD")
	}
	if pass == "" && k.passwordFile != "" {
		b, err := os.ReadFile(k.passwordFile)
		if err != nil {
			return bus.Security{}, fmt.Errorf("%w: reading --kafka-sasl-password-file: %w", errUsage, err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	return bus.Security{TLS: k.tls, CAFile: k.ca, CertFile: k.cert, KeyFile: k.key,
		SASLMechanism: k.mechanism, SASLUser: k.user, SASLPassword: pass}, nil
}

// open returns the Bus of cfg secured as the flags say, after checking
// that the brokers accept the certificate and credentials (a refused one
// fails here, at start, with what to check: bus.CheckSecurity).
func (k *kafkaSecurity) open(ctx context.Context, cfg bus.Config) (*bus.Bus, error) {
	sec, err := k.security()
	if err != nil {
		return nil, err
	}
	cfg.Security = sec
	b, err := bus.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := b.CheckSecurity(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}
