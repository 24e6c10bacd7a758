package jobs

import (
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
)

// QualityJobName names the built-in job that writes the quality ledger.
const QualityJobName = "platform.quality"

// QualityJob is the built-in job that writes the quality ledger
// (highway/quality): every bucket, each slot a bucket of every feed, run
// delay after the bucket's end so late rows and dead letters are in. It
// has no SQL: the Runner given a Ledger (WithLedger) runs it in Go. Missed
// slots are caught up for 24 buckets.
func QualityJob(bucket, delay time.Duration) *catalog.Job {
	return &catalog.Job{
		Name: QualityJobName, Department: "PLATFORM",
		Description: "The quality and freshness ledger: per feed and bucket, records accepted, rejected by reason and field, dead-lettered, late, duplicates, corrections; per field nulls, out-of-range share, min/max/mean and drift; completeness against the cadence (gaps, keys missing); freshness; reconciliation of Kafka against ClickHouse; and the score. Computed in Go by highway/quality into " + store.QualityTable + ".",
		Every:       bucket, Delay: delay, Table: store.QualityTable,
		Timeout: 5 * time.Minute, Retries: 3, Backoff: 30 * time.Second, Concurrency: catalog.Forbid,
		Catchup: 24 * bucket,
	}
}

// WithLedger makes the Runner run the slots of QualityJob with l instead
// of SQL, and returns it.
func (r *Runner) WithLedger(l *quality.Ledger) *Runner {
	r.ledger = l
	return r
}
