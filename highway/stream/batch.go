package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

// batch is one decoded micro-batch of one partition, on its way to
// ClickHouse.
type batch struct {
	msgs    int
	rec     arrow.RecordBatch
	prov    store.Provenance
	bad     []bus.Message
	rows    []int // of each reject: its row in an Arrow message, or bus.WholeRecord
	reasons []string
	pend    []Pending
	// landed, when set, holds which rows of the batch's offsets the table
	// may already have (the claim's previous owner wrote them).
	landed store.Landed
	next   int64 // the offset after the batch's last message
	began  time.Time
}

// decode turns one micro-batch into Arrow rows and rejects. st.pend
// receives what the windows observe of it.
func (p *Processor) decode(dec *record.Decoder, msgs []bus.Message, st *partitionState) *batch {
	pend := st.pend
	feed := p.cfg.Feed
	b := &batch{msgs: len(msgs), prov: store.Provenance{Topic: feed.Topic(),
		Partitions: make([]int32, 0, len(msgs)), Offsets: make([]int64, 0, len(msgs))},
		pend: pend, next: msgs[len(msgs)-1].Offset + 1, began: time.Now()}
	dec.Reserve(len(msgs))
	srcs := sources{version: feed.Version}
	for _, m := range msgs {
		h := readHeaders(&m)
		if string(h.contentType) == record.ContentTypeArrow {
			// An Arrow message carries many rows under one offset.
			n, rowRejects, err := dec.AppendIPC(m.Value)
			for i := 0; i < n; i++ {
				b.prov.Partitions = append(b.prov.Partitions, int32(m.Partition))
				b.prov.Offsets = append(b.prov.Offsets, m.Offset)
				srcs.add(&b.prov, &h)
			}
			for _, rr := range rowRejects {
				row := m.Clone() // the message's bytes are reused by the next fetch
				row.Value = rr.JSON
				row.Headers = []bus.Header{
					{Key: bus.HeaderContentType, Value: []byte(record.ContentTypeJSON)},
					{Key: bus.HeaderSourceRow, Value: []byte(strconv.Itoa(rr.Row))},
				}
				st.reject(b, row, rr.Row, fmt.Sprintf("row %d of Arrow message: %v", rr.Row, rr.Err))
			}
			if err != nil {
				st.reject(b, m.Clone(), bus.WholeRecord, err.Error())
			}
			continue
		}
		if err := dec.Append(m.Value); err != nil {
			if errors.Is(err, record.ErrDuplicate) {
				p.duplicates.Add(1)
				p.cfg.Metrics.duplicate(feed.Name)
				continue
			}
			st.reject(b, m.Clone(), bus.WholeRecord, err.Error())
			continue
		}
		b.prov.Partitions = append(b.prov.Partitions, int32(m.Partition))
		b.prov.Offsets = append(b.prov.Offsets, m.Offset)
		srcs.add(&b.prov, &h)
	}
	b.rec = dec.NewRecordBatch()
	p.in.Add(int64(len(msgs)))
	return b
}

// persist sends a batch's rejects to the DLQ, then inserts its rows,
// retrying until ClickHouse takes them; it releases the batch. Rejects go
// first: once the rows are in ClickHouse and the batch ledger says so, a
// restart resumes after them, so a reject sent later could be lost.
func (p *Processor) persist(ctx context.Context, b *batch) error {
	defer b.rec.Release()
	feed := p.cfg.Feed
	if len(b.bad) > 0 {
		if err := p.deadLetter(ctx, b); err != nil {
			return err
		}
		p.log.Debug("rejected records", "count", len(b.bad), "first_offset", b.bad[0].Offset, "first_reason", b.reasons[0])
	}
	if n := len(b.prov.Offsets); n > 0 {
		partition := int(b.prov.Partitions[0])
		landed := b.landed
		attempt, inserted, skipped := 0, 0, 0
		err := retry(ctx, p, "inserting into ClickHouse", func() (err error) {
			attempt++
			if attempt > 1 {
				// A failed insert may have landed in part (ClickHouse commits
				// each month of a block on its own): ask which rows it has
				// and insert the others.
				landed, err = p.sink.Landed(ctx, feed, feed.Topic(), partition, b.prov.Offsets[0], b.prov.Offsets[n-1]+1)
				if err != nil {
					return err
				}
			}
			b.prov.IngestedAt = time.Now()
			inserted, skipped, err = p.sink.InsertMissing(ctx, feed, b.rec, b.prov, landed)
			return err
		})
		if err != nil {
			return err
		}
		if skipped > 0 {
			p.log.Info("rows already in ClickHouse left out of a batch", "partition", partition, "first_offset", b.prov.Offsets[0], "skipped", skipped, "inserted", inserted)
			p.cfg.Metrics.alreadyLanded(feed.Name, skipped)
		}
		p.written.Add(int64(inserted))
	}
	p.cfg.Metrics.batch(feed.Name, b.msgs, int(b.rec.NumRows()), time.Since(b.began))
	return nil
}

// add appends a record's provenance headers to prov's per-row slices,
// which stay nil until a message has any (most batches of a feed come from
// one connector, or none).
func (s *sources) add(prov *store.Provenance, h *headers) {
	row := len(prov.Offsets) - 1
	if prov.Sources == nil {
		if h.source == nil && h.etag == nil && h.fetchedAt == nil && h.schemaVersion == nil {
			return
		}
		prov.Sources, prov.ETags = make([]string, row, cap(prov.Offsets)), make([]string, row, cap(prov.Offsets))
		prov.FetchedAt, prov.SchemaVersions = make([]int64, row, cap(prov.Offsets)), make([]uint32, row, cap(prov.Offsets))
		for i := range prov.SchemaVersions {
			prov.SchemaVersions[i] = uint32(s.version)
		}
	}
	// The records of one poll arrive together with the same headers:
	// parse them once per run.
	if !s.parsed || !bytes.Equal(h.source, s.last.source) || !bytes.Equal(h.etag, s.last.etag) ||
		!bytes.Equal(h.fetchedAt, s.last.fetchedAt) || !bytes.Equal(h.schemaVersion, s.last.schemaVersion) {
		s.parsed, s.last = true, *h
		s.source, s.etag = string(h.source), string(h.etag)
		s.at = 0
		if t, err := time.Parse(time.RFC3339Nano, string(h.fetchedAt)); err == nil {
			s.at = t.Unix()
		}
		s.v = uint32(s.version)
		if n, err := strconv.ParseUint(string(h.schemaVersion), 10, 32); err == nil {
			s.v = uint32(n)
		}
	}
	prov.Sources = append(prov.Sources, s.source)
	prov.ETags = append(prov.ETags, s.etag)
	prov.FetchedAt = append(prov.FetchedAt, s.at)
	prov.SchemaVersions = append(prov.SchemaVersions, s.v)
}

// headers are the record headers the processor reads.
type headers struct {
	contentType, source, etag, fetchedAt, schemaVersion []byte
}

// readHeaders finds m's headers in one pass (the first of each name, as
// Message.Header does).
func readHeaders(m *bus.Message) headers {
	var h headers
	for _, kv := range m.Headers {
		var dst *[]byte
		switch kv.Key {
		case bus.HeaderContentType:
			dst = &h.contentType
		case record.HeaderSource:
			dst = &h.source
		case record.HeaderETag:
			dst = &h.etag
		case record.HeaderFetchedAt:
			dst = &h.fetchedAt
		case record.HeaderSchemaVersion:
			dst = &h.schemaVersion
		default:
			continue
		}
		if *dst == nil {
			*dst = kv.Value
		}
	}
	return h
}

// sources turns provenance headers into the batch's per-row provenance,
// remembering the last message's so a run of records from one poll is
// parsed once.
type sources struct {
	version int
	parsed  bool
	last    headers
	source  string
	etag    string
	at      int64
	v       uint32
}
