package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// report prints the summary and, last, the one line the issue asks for.
func report(w io.Writer, o options, e *env, r results) {
	hw, eng := best(r.highway), best(r.engine)
	// The ceiling is what the issue defines: the rows inserted from memory
	// with clickhouse-go's columnar batch. highway's own native insert from
	// memory (store.Insert) is reported beside it, with its ratio, as the
	// stricter yardstick.
	var ceil, native int64
	for _, x := range r.ceiling {
		ceil, native = max(ceil, x.Rate), max(native, x.ArrowRate)
	}
	peak := int64(0)
	for _, t := range r.highway {
		peak = max(peak, t.Usage.VmHWM)
	}
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\n== ingest benchmark, run %s ==\n", o.run)
	fmt.Fprintf(w, "machine: %s, %d CPUs (%s), %s; ClickHouse %s; Kafka %s; load at end %s\n", host, runtime.NumCPU(), cpuModel(), memTotal(), e.store.Version(), o.kafka, loadavg())
	if o.built != "" {
		fmt.Fprintf(w, "highway built from: %s\n", o.built)
	}
	if o.ceilBatch != catalog.DefaultBatch.Rows {
		fmt.Fprintf(w, "ceiling batches: %d rows\n", o.ceilBatch)
	}
	if o.childFlags != "" {
		fmt.Fprintf(w, "highway process flags added: %s\n", o.childFlags)
	}
	fmt.Fprintf(w, "data: %d td.traffic.detectors records (connectors/sim), %d partitions, the table shape of highway/store; best of %d attempt(s)\n\n", hw.Rows, o.partitions, o.repeat)

	perM := func(d time.Duration, rows int64) string {
		if rows == 0 || d == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", d.Seconds()/float64(rows)*1e6)
	}
	fmt.Fprintf(w, "%-36s %7s %10s %8s %9s %9s %9s %6s\n", "", "attempt", "rows/s", "wall s", "CPU s/M", "CH CPU/M", "Kafka/M", "load")
	for i, t := range r.highway {
		fmt.Fprintf(w, "%-36s %7d %10d %8.1f %9s %9s %9s %6s\n", "highway process (child)", i+1, t.Rate, t.Took.Seconds(), perM(t.Usage.CPU, t.Rows), perM(t.CHCPU, t.Rows), perM(t.KafkaCPU, t.Rows), t.Load)
	}
	if r.engineWhy == "" {
		for i, t := range r.engine {
			fmt.Fprintf(w, "%-36s %7d %10d %8.1f %9s %9s %9s %6s\n", "ClickHouse Kafka engine + MV", i+1, t.Rate, t.Took.Seconds(), "(in CH)", perM(t.CHCPU, t.Rows), "", t.Load)
		}
	} else {
		fmt.Fprintf(w, "%-36s %7s %10d   kafka_engine=0: %s\n", "ClickHouse Kafka engine + MV", "-", 0, r.engineWhy)
	}
	for i, x := range r.ceiling {
		fmt.Fprintf(w, "%-36s %7d %10d %8.1f %9s %9s %9s %6s\n", "ceiling: InsertColumns from memory", i+1, x.Rate, x.Took.Seconds(), perM(x.ClientCPU, hw.Rows), perM(x.CHCPU, hw.Rows), "", x.Load)
		fmt.Fprintf(w, "%-36s %7d %10d %8.1f\n", "  (store.Insert, native, from memory)", i+1, x.ArrowRate, x.ArrowTook.Seconds())
	}
	fmt.Fprintf(w, "(CPU s/M: highway's child, or for the ceiling this benchmark process, i.e. clickhouse-go's encoding; CH and Kafka: the servers' CPU meanwhile)\n")
	fmt.Fprintf(w, "ceiling = best clickhouse-go columnar batch from memory (the issue's definition): %d rows/s\n", ceil)
	fmt.Fprintf(w, "stricter: best of highway's own native insert from memory %d rows/s; highway / that = %.2f\n", native, float64(hw.Rate)/float64(max(native, 1)))
	fmt.Fprintf(w, "\nhighway (best attempt): first row visible after %.1f s; %.1f CPU s for %d rows = %s CPU s per million rows; peak RSS %d MiB (VmHWM, highest of all attempts); exit: %s\n",
		hw.FirstRow.Seconds(), hw.Usage.CPU.Seconds(), hw.Rows, perM(hw.Usage.CPU, hw.Rows), mib(peak), exitText(hw.Usage.ExitErr))
	fmt.Fprintf(w, "latency (produce → visible; a probe every %s, visibility polled every %s, so up to ~%s high):\n", tick, pollEvery, pollEvery+10*time.Millisecond)
	lat := func(name string, l latencyResult, extra string) {
		if l.Probes == 0 {
			fmt.Fprintf(w, "  %-8s not measured\n", name)
			return
		}
		fmt.Fprintf(w, "  %-8s %d/s wanted, %d/s produced; %d probes, %d missing; p50 %d ms, p99 %d ms, max %d ms%s\n",
			name+":", l.Wanted, l.Achieved, l.Probes, l.Missing, l.P50.Milliseconds(), l.P99.Milliseconds(), l.Max.Milliseconds(), extra)
		fmt.Fprintf(w, "  %-8s p50/p99 ms by 5 s of produce time: %s\n", "", strings.Join(l.Slices, " "))
	}
	lat("highway", r.hwLat, fmt.Sprintf("; child peak RSS %d MiB", mib(r.hwLatUsage.VmHWM)))
	lat("engine", r.engLat, "")
	ratio := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	fmt.Fprintf(w, "targets: ratio_engine ≥ 1.5 %s; ratio_ceiling ≥ 0.6 %s; p99 ≤ 1500 ms %s; peak RSS ≤ 256 MiB %s (the target is for a 10M-row backlog: --rows 10000000)\n",
		verdict(eng.Rate > 0 && ratio(hw.Rate, eng.Rate) >= 1.5), verdict(ratio(hw.Rate, ceil) >= 0.6),
		verdict(r.hwLat.Probes > 0 && r.hwLat.Missing == 0 && r.hwLat.P99 <= 1500*time.Millisecond), verdict(peak > 0 && mib(peak) <= 256))
	fmt.Fprintf(w, "ingest rows=%d highway=%d kafka_engine=%d ceiling=%d ratio_engine=%.2f ratio_ceiling=%.2f p99_ms=%d engine_p99_ms=%d rss_mb=%d%s\n",
		hw.Rows, hw.Rate, eng.Rate, ceil, ratio(hw.Rate, eng.Rate), ratio(hw.Rate, ceil), r.hwLat.P99.Milliseconds(), r.engLat.P99.Milliseconds(), mib(peak), baselineFields(hw, best(r.baseline)))
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}

func exitText(err error) string {
	if err == nil {
		return "clean"
	}
	return err.Error()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return "?"
}

// baselineFields are the last line's fields of the -baseline build: its
// best rate and highway's against it, or nothing without one.
func baselineFields(hw, bl throughput) string {
	if bl.Rate <= 0 {
		return ""
	}
	return fmt.Sprintf(" baseline=%d ratio_baseline=%.3f", bl.Rate, float64(hw.Rate)/float64(bl.Rate))
}
