package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const jobFeed = `kind: feed
name: td.traffic.detectors
department: TD
fields:
  - {name: detector_id, type: string, required: true}
  - {name: speed, type: float64}
  - {name: period_from, type: time, required: true}
key: [detector_id]
event_time: period_from
interval: 1m
`

func TestJobSpecs(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the problems, in order; none means valid
	}{
		{"valid cron", `kind: job
name: city.speed_hourly
department: TD
schedule: "5 * * * *"
sql: SELECT avg(speed) AS speed FROM td_traffic_detectors WHERE period_from >= {slot_start} AND period_from < {slot_end}
wait_for: [td.traffic.detectors]
`, nil},
		{"valid every with after", `kind: job
name: a.first
department: X
every: 5m
sql: SELECT 1 AS one
---
kind: job
name: a.second
department: X
every: 5m
after: [a.first]
concurrency: allow
sql: WITH 1 AS x SELECT x
`, nil},
		{"no schedule", `kind: job
name: a.b
department: X
sql: SELECT 1
`, []string{"x.yaml:1: schedule: missing"}},
		{"both schedules", `kind: job
name: a.b
department: X
schedule: "* * * * *"
every: 1m
sql: SELECT 1
`, []string{"every: give either"}},
		{"bad cron", `kind: job
name: a.b
department: X
schedule: "61 * * * *"
sql: SELECT 1
`, []string{"schedule: cron expression"}},
		{"six fields", `kind: job
name: a.b
department: X
schedule: "0 0 * * * *"
sql: SELECT 1
`, []string{"not a 5-field cron"}},
		{"bad zone", `kind: job
name: a.b
department: X
schedule: "0 * * * *"
timezone: Mars/Olympus
sql: SELECT 1
`, []string{"unknown time zone"}},
		{"sub-second every", `kind: job
name: a.b
department: X
every: 1500ms
sql: SELECT 1
`, []string{"whole number of seconds"}},
		{"not a select", `kind: job
name: a.b
department: X
every: 1m
sql: DROP TABLE x
`, []string{"must be one SELECT"}},
		{"two statements", `kind: job
name: a.b
department: X
every: 1m
sql: SELECT 1; SELECT 2
`, []string{"single statement"}},
		{"unknown placeholder", `kind: job
name: a.b
department: X
every: 1m
sql: SELECT {slot_begin}
`, []string{"unknown placeholder {slot_begin}"}},
		{"bad policy and retries", `kind: job
name: a.b
department: X
every: 1m
retries: 99
concurrency: sometimes
sql: SELECT 1
`, []string{"retries: must be between", "concurrency: must be forbid"}},
		{"unknown key", `kind: job
name: a.b
department: X
every: 1m
sql: SELECT 1
colour: red
`, []string{"x.yaml:6: colour: unknown key"}},
		{"missing upstream and feed", `kind: job
name: a.b
department: X
every: 1m
after: [a.nope]
wait_for: [no.such.feed]
sql: SELECT 1
`, []string{`wait_for[0]: no feed called "no.such.feed"`, `after[0]: no job called "a.nope"`}},
		{"feed table", `kind: job
name: a.b
department: X
every: 1m
table: td_traffic_detectors
sql: SELECT 1
`, []string{"is the table of feed"}},
		{"cycle", `kind: job
name: a.one
department: X
every: 1m
after: [a.two]
sql: SELECT 1
---
kind: job
name: a.two
department: X
every: 1m
after: [a.one]
sql: SELECT 1
`, []string{"cycle: a.one → a.two → a.one", "cycle: a.two → a.one → a.two"}},
		{"self", `kind: job
name: a.one
department: X
every: 1m
after: [a.one]
sql: SELECT 1
`, []string{"cannot run after itself"}},
	}
	base, err := Parse("feeds.yaml", []byte(jobFeed))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := build(base, []source{{name: "x.yaml", data: []byte(tt.yaml)}})
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				if len(c.Jobs()) == 0 {
					t.Fatal("no jobs loaded")
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want problems %q, got %v", tt.want, err)
			}
			if len(list) != len(tt.want) {
				t.Fatalf("want %d problems %q, got:\n%v", len(tt.want), tt.want, err)
			}
			for i, w := range tt.want {
				if !strings.Contains(list[i].Error(), w) {
					t.Errorf("problem %d: want %q in %q", i, w, list[i].Error())
				}
			}
		})
	}
}

func TestJobDefaults(t *testing.T) {
	c, err := Parse("x.yaml", []byte(`kind: job
name: city.x
department: X
schedule: "0 * * * *"
sql: SELECT 1
`))
	if err != nil {
		t.Fatal(err)
	}
	j := c.Job("city.x")
	if j == nil {
		t.Fatal("job not found")
	}
	if j.Table != "city_x" || j.TimeZone != DefaultTimeZone || j.Timeout != DefaultJobTimeout ||
		j.Retries != DefaultJobRetries || j.Backoff != DefaultJobBackoff || j.Concurrency != Forbid || j.Catchup != 0 {
		t.Errorf("defaults not applied: %+v", j)
	}
}

// DefaultLocation is Hong Kong time: UTC+8, summer and winter.
func TestDefaultLocation(t *testing.T) {
	loc := DefaultLocation()
	if loc.String() != DefaultTimeZone {
		t.Errorf("DefaultLocation() = %s, want %s", loc, DefaultTimeZone)
	}
	for _, at := range []time.Time{time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)} {
		if _, off := at.In(loc).Zone(); off != 8*3600 {
			t.Errorf("offset on %s = %ds, want 8h", at.Format(time.DateOnly), off)
		}
	}
}

func TestSchedule(t *testing.T) {
	hk := time.FixedZone("HKT", 8*3600)
	tests := []struct {
		name string
		job  Job
		at   time.Time
		want time.Time
	}{
		{"every 5m", Job{Every: 5 * time.Minute}, time.Date(2026, 3, 1, 10, 7, 30, 0, time.UTC), time.Date(2026, 3, 1, 10, 10, 0, 0, time.UTC)},
		{"every on boundary", Job{Every: time.Second}, time.Unix(100, 0), time.Unix(101, 0)},
		{"hourly cron", Job{Cron: "5 * * * *"}, time.Date(2026, 3, 1, 10, 7, 0, 0, time.UTC), time.Date(2026, 3, 1, 11, 5, 0, 0, time.UTC)},
		{"daily at midnight in Hong Kong", Job{Cron: "0 0 * * *", TimeZone: "Asia/Hong_Kong"},
			time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, hk)},
		{"daily at midnight UTC", Job{Cron: "0 0 * * *", TimeZone: "UTC"},
			time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.job.Schedule()
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(tt.at); !got.Equal(tt.want) {
				t.Errorf("Next(%v) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestParseJob(t *testing.T) {
	base, err := Parse("feeds.yaml", []byte(jobFeed))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]*Job{"up.stream": {Name: "up.stream"}}
	lookup := func(n string) *Job { return known[n] }
	j, err := base.ParseJob("api", []byte(`{"name": "a.b", "department": "X", "every": "1m", "after": ["up.stream"], "sql": "SELECT {slot_start} AS s"}`), lookup)
	if err != nil {
		t.Fatalf("JSON job: %v", err)
	}
	if j.Every != time.Minute || j.Table != "a_b" {
		t.Errorf("decoded %+v", j)
	}
	if got := j.Render(time.Unix(60, 0), time.Unix(120, 0)); got != "SELECT toDateTime(60) AS s" {
		t.Errorf("Render = %q", got)
	}
	_, err = base.ParseJob("api", []byte("name: a.b\ndepartment: X\nevery: 1m\nafter: [x.y]\nsql: SELECT 1\n"), lookup)
	if err == nil || !strings.Contains(err.Error(), `api:1: after[0]: no job called "x.y"`) {
		t.Errorf("want a missing upstream, got %v", err)
	}
	_, err = base.ParseJob("api", []byte("kind: feed\nname: a.b\n"), lookup)
	if err == nil || !strings.Contains(err.Error(), "kind: must be job") {
		t.Errorf("want a kind problem, got %v", err)
	}
}

func TestBuiltinJobs(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"city.district_hourly", "platform.feed_health"} {
		if c.Job(name) == nil {
			t.Errorf("built-in job %s is missing", name)
		}
	}
}

// FuzzParseJob feeds job documents, seeded with the built-in jobs, to the
// spec loader and to ParseJob: neither may panic, and an accepted job must
// have a schedule that compiles.
func FuzzParseJob(f *testing.F) {
	seed, err := builtinSpecs.ReadFile("builtin/jobs.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"name": "a.b", "department": "X", "every": "1m", "after": ["a.c"], "sql": "SELECT {slot_start}"}`))
	f.Add([]byte("kind: job\nname: a.b\ndepartment: X\nschedule: \"*/5 1-3 * * MON\"\ntimezone: UTC\nsql: SELECT 1\n"))
	base, err := Builtin()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := build(base, []source{{name: "f.yaml", data: data}}); err == nil {
			for _, j := range c.Jobs() {
				if _, err := j.Schedule(); err != nil {
					t.Errorf("accepted job %s has a broken schedule: %v", j.Name, err)
				}
			}
		}
		if j, err := base.ParseJob("f", data, func(string) *Job { return nil }); err == nil {
			if _, err := j.Schedule(); err != nil {
				t.Errorf("accepted job %s has a broken schedule: %v", j.Name, err)
			}
		}
	})
}
