package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// runSecure measures, in one run on one broker, `highway process` draining
// the same pre-filled topic over the broker's plaintext listener (-kafka)
// and over its SASL_SSL listener (-secure-kafka, with -secure-flags: the
// TLS and SASL flags of the child), alternately, -repeat times each; the
// best of each counts. The last line of stdout is
//
//	ingest_sasl_ssl rows=N plaintext=R sasl_ssl=R ratio=X
func runSecure(ctx context.Context, o options, log *slog.Logger) error {
	e, err := newEnv(ctx, o, log)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return err
	}
	src, n, err := e.fillSource(ctx, o, log, "filling the topic")
	if err != nil {
		return err
	}
	sides := []struct{ what, kafka, flags string }{
		{"plaintext", o.kafka, o.childFlags},
		{"SASL_SSL", o.secureKafka, strings.TrimSpace(o.childFlags + " " + o.secureFlags)},
	}
	var best [2]throughput
	for a := 1; a <= o.repeat; a++ {
		for k, s := range sides {
			e.o.kafka, e.o.childFlags = s.kafka, s.flags
			log.Info("highway drains the topic", "over", s.what, "attempt", a, "rows", n, "load", loadavg())
			t, err := e.measureHighway(ctx, src, n, 10*a+k)
			if err != nil {
				return fmt.Errorf("over %s: %w", s.what, err)
			}
			log.Info("drained", "over", s.what, "attempt", a, "rows", t.Rows, "took", t.Took.Round(time.Millisecond), "rate", t.Rate, "load", t.Load)
			if t.Rate > best[k].Rate {
				best[k] = t
			}
			e.quiesce(ctx)
		}
	}
	e.o.kafka, e.o.childFlags = o.kafka, o.childFlags
	fmt.Printf("plaintext (%s): %d rows/s (load %s)\nSASL_SSL (%s): %d rows/s (load %s)\n",
		o.kafka, best[0].Rate, best[0].Load, o.secureKafka, best[1].Rate, best[1].Load)
	fmt.Printf("ingest_sasl_ssl rows=%d plaintext=%d sasl_ssl=%d ratio=%.2f\n", n, best[0].Rate, best[1].Rate, ratio(best[1].Rate, best[0].Rate))
	return nil
}
