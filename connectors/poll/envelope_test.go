package poll

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

// TestWhatThePollerWritesIsWhatTheReadersRead: the headers the poller
// writes on its records are those the processor turns into the row's
// provenance columns (store.Provenance.Add, from the raw headers as its
// hot path reads them), and those of its rejects are what the quality
// ledger's dead-letter copy reads. A header the poller writes under a name
// the readers do not know fails here.
func TestWhatThePollerWritesIsWhatTheReadersRead(t *testing.T) {
	srv, src, cat := setup(t)
	fetched := time.Date(2026, 11, 26, 8, 0, 5, 0, time.UTC)
	out := &capture{}
	p := New(Config{Catalog: cat, Now: func() time.Time { return fetched }}, out)
	const body = "g1,0,1.5\nbad line"
	srv.set(func(s *server) { s.body, s.etags = body, true })
	if _, err := p.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	msgs := out.take()
	if len(msgs) != 2 {
		t.Fatalf("produced %d messages, want a record and a reject", len(msgs))
	}
	rec, dead := msgs[0], msgs[1]

	raw := rec.RawEnvelope()
	if string(raw.ContentType()) != record.ContentTypeJSON {
		t.Errorf("content type %q, want %q", raw.ContentType(), record.ContentTypeJSON)
	}
	var prov store.Provenance
	src0 := raw.Provenance()
	prov.Add(0, 0, &src0, 7)
	want := store.Provenance{Partitions: []int32{0}, Offsets: []int64{0}, Sources: []string{src.URL}, ETags: []string{fmt.Sprintf(`"%d"`, len(body))},
		FetchedAt: []int64{fetched.Unix()}, SchemaVersions: []uint32{uint32(cat.Feed("test.gauges").Version)}}
	if !equalProvenance(prov, want) {
		t.Errorf("the processor reads the poller's headers as\n %+v\nwant\n %+v", prov, want)
	}

	if dead.Topic != envelope.DLQTopic(rec.Topic) {
		t.Errorf("reject went to %s", dead.Topic)
	}
	dl := quality.DeadLetterOf("test.gauges", &dead)
	if dl.Stage != store.StageSource || !strings.Contains(dl.Reason, "want gauge,minute,level") || !dl.RejectedAt.Equal(fetched) || dl.SourceOffset != -1 {
		t.Errorf("the dead-letter copy reads the poller's reject as %+v", dl)
	}
	if env := dead.Envelope(); env.Source != src.URL || env.Reject == nil || env.Reject.Topic != rec.Topic {
		t.Errorf("the reject's envelope is %+v", env)
	}
}

func equalProvenance(a, b store.Provenance) bool {
	return fmt.Sprint(a.Partitions, a.Offsets, a.Sources, a.ETags, a.FetchedAt, a.SchemaVersions) ==
		fmt.Sprint(b.Partitions, b.Offsets, b.Sources, b.ETags, b.FetchedAt, b.SchemaVersions)
}
