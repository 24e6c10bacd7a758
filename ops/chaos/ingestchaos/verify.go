package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// verdict is what the comparison found; see the package comment for the
// definitions.
type verdict struct {
	rows, distinct, lost, duplicated int64 // counted per seq, the producer's own id
	dupSeqs                          int64 // seqs with more than one row
	kafkaRecords, kafkaDistinct      int64
	offsetDup                        int64 // rows beyond one per Kafka record (_partition, _offset)
	misattributed                    int64 // rows whose (_partition, _offset) holds another seq in Kafka
	kafkaWithoutRow                  int64 // Kafka records with no row at their offset
	unacked                          int64 // rows whose seq the producer never had acknowledged
	good, bad                        int64 // acknowledged records the processor must write, and reject
	badRows                          int64 // rows of bad records
	dlqRecords, dlqLost, dlqDup      int64 // the dead-letter topic: records, bad seqs missing, copies beyond one per seq
	windows, windowsBad              int
	windowsOK                        bool
}

// verify reads the whole topic, its dead-letter topic and the whole table
// and compares them with each other and with the producer's acknowledged
// records 0 … produced−1 (acked), of which plan says which are bad.
func verify(ctx context.Context, b *bus.Bus, st *store.Store, db string, feed *catalog.Feed, acked int64, plan recordPlan, log *slog.Logger) (verdict, error) {
	var v verdict
	began := time.Now()
	msgs, err := readAll(ctx, b, feed.Topic(), log)
	if err != nil {
		return v, err
	}
	// kafka[p][o] is the seq of the record at partition p, offset o.
	kafka := map[int32]map[int64]int64{}
	kseen := map[int64]bool{}
	for _, m := range msgs {
		var r struct {
			Seq int64 `json:"seq"`
		}
		if err := json.Unmarshal(m.Value, &r); err != nil {
			return v, fmt.Errorf("record %s/%d@%d is not the producer's: %w", m.Topic, m.Partition, m.Offset, err)
		}
		p := int32(m.Partition)
		if kafka[p] == nil {
			kafka[p] = map[int64]int64{}
		}
		kafka[p][m.Offset] = r.Seq
		kseen[r.Seq] = true
	}
	v.kafkaRecords, v.kafkaDistinct = int64(len(msgs)), int64(len(kseen))
	log.Info("topic read back", "records", v.kafkaRecords, "distinct", v.kafkaDistinct, "took", time.Since(began).Round(100*time.Millisecond))

	var (
		parts []int32
		offs  []int64
		seqs  []int64
	)
	q := fmt.Sprintf("SELECT groupArray(%s), groupArray(%s), groupArray(seq) FROM %s.%s", store.ColPartition, store.ColOffset, db, feed.Table())
	if err := st.QueryRow(ctx, []any{&parts, &offs, &seqs}, q); err != nil {
		return v, err
	}
	v.rows = int64(len(seqs))
	type po struct {
		p int32
		o int64
	}
	rowsAt := map[po]int{}
	chSeqs := map[int64]int{}
	for i := range seqs {
		rowsAt[po{parts[i], offs[i]}]++
		chSeqs[seqs[i]]++
		if k, ok := kafka[parts[i]][offs[i]]; !ok || k != seqs[i] {
			v.misattributed++
		}
		if seqs[i] < 0 || seqs[i] >= acked {
			v.unacked++
		}
		if plan.bad(seqs[i]) {
			v.badRows++
		}
	}
	v.distinct = int64(len(chSeqs))
	v.duplicated = v.rows - v.distinct
	v.offsetDup = v.rows - int64(len(rowsAt))
	for s, n := range chSeqs {
		if n > 1 {
			v.dupSeqs++
			if v.dupSeqs <= 3 {
				log.Error("seq stored more than once", "seq", s, "rows", n)
			}
		}
	}
	for p, offsets := range kafka {
		for o, seq := range offsets {
			if rowsAt[po{p, o}] == 0 && !plan.bad(seq) {
				v.kafkaWithoutRow++
			}
		}
	}
	for s := int64(0); s < acked; s++ {
		if plan.bad(s) {
			v.bad++
			continue
		}
		v.good++
		if chSeqs[s] == 0 {
			v.lost++
			if v.lost <= 3 {
				log.Error("acknowledged seq has no row", "seq", s, "at", plan.at(s))
			}
		}
	}

	// Windows: distinct seqs per 5-minute window of event time, ClickHouse
	// against the producer's tally.
	var (
		ws     []uint32
		counts []uint64
	)
	q = fmt.Sprintf("SELECT groupArray(w), groupArray(c) FROM (SELECT toUInt32(intDiv(toUInt32(at), %d) * %d) AS w, uniqExact(seq) AS c FROM %s.%s GROUP BY w)",
		windowSecs, windowSecs, db, feed.Table())
	if err := st.QueryRow(ctx, []any{&ws, &counts}, q); err != nil {
		return v, err
	}
	tally := map[int64]int64{}
	for s := int64(0); s < acked; s++ {
		if !plan.bad(s) {
			tally[plan.window(s)]++
		}
	}
	got := map[int64]int64{}
	for i := range ws {
		got[int64(ws[i])] = int64(counts[i])
	}
	for w, n := range tally {
		if got[w] != n {
			v.windowsBad++
			if v.windowsBad <= 3 {
				log.Error("window differs", "window", time.Unix(w, 0).UTC(), "producer", n, "clickhouse", got[w])
			}
		}
	}
	for w := range got {
		if _, ok := tally[w]; !ok {
			v.windowsBad++
			log.Error("window only in ClickHouse", "window", time.Unix(w, 0).UTC(), "clickhouse", got[w])
		}
	}
	v.windows = len(tally)
	v.windowsOK = v.windowsBad == 0 && len(tally) > 0
	if err := v.checkDeadLetters(ctx, b, feed, acked, plan, log); err != nil {
		return v, err
	}
	return v, nil
}

// checkDeadLetters reads the feed's dead-letter topic: every bad record
// acknowledged must be there exactly once, counted by seq.
func (v *verdict) checkDeadLetters(ctx context.Context, b *bus.Bus, feed *catalog.Feed, acked int64, plan recordPlan, log *slog.Logger) error {
	msgs, err := readAll(ctx, b, feed.DLQTopic(), log)
	if err != nil {
		return err
	}
	v.dlqRecords = int64(len(msgs))
	seen := map[int64]int64{}
	for _, m := range msgs {
		var r struct {
			Seq *int64 `json:"seq"`
		}
		if json.Unmarshal(m.Value, &r) != nil || r.Seq == nil {
			continue // not one of the producer's records (a note about an unreadable batch)
		}
		seen[*r.Seq]++
	}
	for s, n := range seen {
		if n > 1 {
			v.dlqDup += n - 1
		}
		if !plan.bad(s) {
			log.Error("a good record is in the dead-letter topic", "seq", s, "copies", n)
		}
	}
	for s := int64(0); s < acked; s++ {
		if plan.bad(s) && seen[s] == 0 {
			v.dlqLost++
		}
	}
	return nil
}

// readAll reads a whole topic, retrying while the broker settles.
func readAll(ctx context.Context, b *bus.Bus, topic string, log *slog.Logger) ([]bus.Message, error) {
	var err error
	for i := 0; i < 5; i++ {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		var msgs []bus.Message
		msgs, err = b.ReadAll(rctx, topic)
		cancel()
		if err == nil {
			return msgs, nil
		}
		log.Warn("reading a topic failed; retrying", "topic", topic, "err", err)
		sleep(ctx, 2*time.Second)
	}
	return nil, fmt.Errorf("reading %s back: %w", topic, err)
}
