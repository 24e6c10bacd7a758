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
	windows, windowsBad              int
	windowsOK                        bool
}

// verify reads the whole topic and the whole table and compares them with
// each other and with the producer's acknowledged records 0 … produced−1.
func verify(ctx context.Context, b *bus.Bus, st *store.Store, db string, feed *catalog.Feed, produced int64, clock eventClock, log *slog.Logger) (verdict, error) {
	var v verdict
	began := time.Now()
	var (
		msgs []bus.Message
		err  error
	)
	for i := 0; i < 5; i++ {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		msgs, err = b.ReadAll(rctx, feed.Topic())
		cancel()
		if err == nil {
			break
		}
		log.Warn("reading the topic failed; retrying", "err", err)
		sleep(ctx, 2*time.Second)
	}
	if err != nil {
		return v, fmt.Errorf("reading %s back: %w", feed.Topic(), err)
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
		if seqs[i] < 0 || seqs[i] >= produced {
			v.unacked++
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
		for o := range offsets {
			if rowsAt[po{p, o}] == 0 {
				v.kafkaWithoutRow++
			}
		}
	}
	for s := int64(0); s < produced; s++ {
		if chSeqs[s] == 0 {
			v.lost++
			if v.lost <= 3 {
				log.Error("acknowledged seq has no row", "seq", s, "at", clock.at(s))
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
	for s := int64(0); s < produced; s++ {
		tally[clock.window(s)]++
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
	return v, nil
}
