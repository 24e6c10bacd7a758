//go:build integration

package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cityhighway/highway/internal/testenv"
)

// BenchmarkProduce measures produce throughput on the real broker: the
// idempotent kgo producer highway uses against kafka-go's Writer set up as
// highway's producer was before it (acks=all, snappy, hash balancer, batches
// of 1000), records of detector size in calls of 1000, the way connectors
// produce. Run both in one go for a ratio:
//
//	go test -tags integration -run '^$' -bench Produce -count 3 ./highway/bus/
func BenchmarkProduce(b *testing.B) {
	brokers := testenv.Kafka(b)
	bs, err := New(Config{Brokers: brokers, Compression: "snappy"})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	topic := testenv.Name("bench.produce")
	if err := bs.EnsureTopics(context.Background(), 2, topic); err != nil {
		b.Fatal(err)
	}
	msgs := make([]Message, 1000)
	for i := range msgs {
		msgs[i] = Message{Topic: topic, Key: []byte(fmt.Sprintf("AID%05d", i%760)),
			Value: fmt.Appendf(nil, `{"detector_id":"AID%05d","district":"YTM","lane":"Fast Lane","speed":%d.5,"occupancy":%d,"volume":%d,"sd":4.2,"valid":true,"period_from":"2026-11-26T08:30:00+08:00","period_to":"2026-11-26T08:30:30+08:00"}`, i%760, 40+i%60, i%100, i%30)}
	}
	run := func(b *testing.B, produce func(ctx context.Context, msgs []Message) error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i += len(msgs) {
			if err := produce(ctx, msgs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	}
	b.Run("kgo-idempotent", func(b *testing.B) {
		p := bs.NewProducer()
		defer p.Close()
		run(b, func(ctx context.Context, msgs []Message) error { return p.Produce(ctx, msgs...) })
	})
	b.Run("kafka-go-writer", func(b *testing.B) {
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			Compression: kafka.Snappy, BatchSize: 1000, BatchBytes: 16 << 20, BatchTimeout: 10 * time.Millisecond}
		defer w.Close()
		km := make([]kafka.Message, len(msgs))
		for i, m := range msgs {
			km[i] = kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
		}
		run(b, func(ctx context.Context, _ []Message) error { return w.WriteMessages(ctx, km...) })
	})
}
