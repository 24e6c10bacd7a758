package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // job time zones must resolve on machines without a zoneinfo database

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Concurrency says what the scheduler does when a slot of a job is due while
// an earlier slot of the same job is still running.
type Concurrency string

// The concurrency policies of a job.
const (
	// Forbid runs the slots of a job one at a time, in order (the default).
	Forbid Concurrency = "forbid"
	// Allow runs due slots side by side.
	Allow Concurrency = "allow"
	// Replace cancels the running slot and runs the newer one.
	Replace Concurrency = "replace"
)

// DefaultTimeZone is the time zone of a cron schedule that names none, and
// the one a connector reads times without an offset in unless it names another.
const DefaultTimeZone = "Asia/Hong_Kong"

// DefaultLocation returns the zone DefaultTimeZone names, for code that shows
// or reads Hong Kong times outside a spec (the portal's pages). The zone
// database is embedded (time/tzdata), so it cannot fail.
func DefaultLocation() *time.Location {
	loc, err := time.LoadLocation(DefaultTimeZone)
	if err != nil {
		panic("catalog: the embedded zone database lacks " + DefaultTimeZone + ": " + err.Error())
	}
	return loc
}

// Job defaults, applied when the spec leaves a key out.
const (
	DefaultJobTimeout = 10 * time.Minute
	DefaultJobRetries = 2
	DefaultJobBackoff = 30 * time.Second
	DefaultJobWaitMax = time.Hour
)

// Slot placeholders that a job's SQL may contain. Each is replaced by a
// DateTime expression (toDateTime(<unix seconds>)) before the query runs.
const (
	PlaceholderSlotStart = "{slot_start}"
	PlaceholderSlotEnd   = "{slot_end}"
)

// Job is the declaration of one scheduled analytics job: a SELECT over
// ClickHouse run once for every time slot of its schedule, whose rows are
// written to Table keyed by slot. It is JSON-serialisable so the scheduler
// can replicate it; File and Line are not carried.
type Job struct {
	Name        string `json:"name"`
	Department  string `json:"department"`
	Description string `json:"description,omitempty"`
	// Cron is a 5-field cron expression (minute hour day-of-month month
	// day-of-week) in TimeZone; a slot runs from one firing to the next and
	// is due at its end. Exactly one of Cron and Every is set.
	Cron string `json:"cron,omitempty"`
	// TimeZone is the IANA zone of Cron (default Asia/Hong_Kong).
	TimeZone string `json:"timezone,omitempty"`
	// Every cuts time into slots of this length, aligned to the Unix epoch
	// (a whole number of seconds).
	Every time.Duration `json:"every,omitempty"`
	// Delay postpones every run past its slot's end, for late data.
	Delay time.Duration `json:"delay,omitempty"`
	// SQL is one SELECT (or WITH … SELECT) with {slot_start}/{slot_end}.
	SQL string `json:"sql"`
	// Table receives the rows; it is created from the query's columns if it
	// is missing. Default: the name with dots replaced by underscores.
	Table string `json:"table"`
	// Timeout bounds one attempt (default 10m).
	Timeout time.Duration `json:"timeout"`
	// Retries is how many times a failed slot is tried again (default 2).
	Retries int `json:"retries"`
	// Backoff is the wait before the first retry; it doubles for each next
	// one (default 30s).
	Backoff time.Duration `json:"backoff"`
	// Concurrency is forbid (default), allow or replace.
	Concurrency Concurrency `json:"concurrency"`
	// Catchup is how far back missed slots are still run after downtime;
	// zero runs only the most recent due slot.
	Catchup time.Duration `json:"catchup,omitempty"`
	// After names jobs whose overlapping slots must have succeeded before a
	// slot of this job runs.
	After []string `json:"after,omitempty"`
	// WaitFor names feeds whose watermark (latest event time) must have
	// passed a slot's end before it runs, for at most WaitMax (default 1h).
	WaitFor []string      `json:"wait_for,omitempty"`
	WaitMax time.Duration `json:"wait_max,omitempty"`
	// Paused jobs are declared but not scheduled until resumed.
	Paused bool `json:"paused,omitempty"`

	// File and Line locate the spec, for messages.
	File string `json:"-"`
	Line int    `json:"-"`
}

// SpecName returns the job's name.
func (j *Job) SpecName() string { return j.Name }

// SpecLocation returns where the job is declared.
func (j *Job) SpecLocation() (string, int) { return j.File, j.Line }

// Jobs returns every job, sorted by name.
func (c *Catalog) Jobs() []*Job {
	specs := c.Specs("job")
	out := make([]*Job, len(specs))
	for i, s := range specs {
		out[i] = s.(*Job)
	}
	return out
}

// Job returns the job called name, or nil.
func (c *Catalog) Job(name string) *Job {
	j, _ := c.Spec("job", name).(*Job)
	return j
}

func init() {
	registerKind(kind{
		name: "job",
		decode: func(p *problems, root *yaml.Node) Spec {
			return decodeJob(p, root)
		},
		check: func(c *Catalog, s Spec, r *crossProblems) {
			j := s.(*Job)
			for _, e := range c.checkJob(j, func(name string) *Job { return c.Job(name) }) {
				r.add(j.File, j.Line, e.path, "%s", e.msg)
			}
		},
	})
}

func jobKeys(d *decoder, j *Job) []key {
	return []key{
		{name: "kind", required: true, doc: "always \"job\"", decode: func(*yaml.Node, string) {}},
		{name: "name", required: true, doc: "dotted lower-case name, e.g. city.district_hourly", decode: d.str(&j.Name)},
		{name: "department", required: true, doc: "the owning department, e.g. PLATFORM", decode: d.str(&j.Department)},
		{name: "description", doc: "what the job computes", decode: d.str(&j.Description)},
		{name: "schedule", doc: "5-field cron expression, e.g. \"5 * * * *\" (or use every)", decode: d.str(&j.Cron)},
		{name: "timezone", doc: "time zone of schedule (default " + DefaultTimeZone + ")", decode: d.str(&j.TimeZone)},
		{name: "every", doc: "slot length, e.g. 5m or 1h (or use schedule)", decode: d.duration(&j.Every, true)},
		{name: "delay", doc: "how long after a slot's end it runs (default 0)", decode: d.duration(&j.Delay, false)},
		{name: "sql", required: true, doc: "one SELECT with {slot_start} and {slot_end}", decode: d.str(&j.SQL)},
		{name: "table", doc: "result table (default: the name with dots as underscores)", decode: d.str(&j.Table)},
		{name: "timeout", doc: "longest one attempt may run (default 10m)", decode: d.duration(&j.Timeout, true)},
		{name: "retries", doc: "retries of a failed slot (default 2)", decode: d.integer(&j.Retries)},
		{name: "backoff", doc: "wait before the first retry, doubling after (default 30s)", decode: d.duration(&j.Backoff, true)},
		{name: "concurrency", doc: "forbid (default), allow or replace", decode: func(n *yaml.Node, path string) {
			var s string
			d.str(&s)(n, path)
			j.Concurrency = Concurrency(s)
		}},
		{name: "catchup", doc: "how far back missed slots still run (default 0: only the last)", decode: d.duration(&j.Catchup, false)},
		{name: "after", doc: "jobs whose same slots must succeed first", decode: d.strings(&j.After)},
		{name: "wait_for", doc: "feeds whose watermark must pass the slot's end", decode: d.strings(&j.WaitFor)},
		{name: "wait_max", doc: "longest wait for wait_for feeds (default 1h)", decode: d.duration(&j.WaitMax, true)},
		{name: "paused", doc: "true to declare the job without scheduling it", decode: d.boolean(&j.Paused)},
	}
}

// decodeJob decodes and validates one job document; it returns the job even
// when it has problems, so duplicate names are still found.
func decodeJob(p *problems, root *yaml.Node) *Job {
	j := &Job{File: p.file, Line: root.Line, Retries: -1}
	d := &decoder{p}
	d.mapping(root, "", jobKeys(d, j))
	applyJobDefaults(j)
	for _, e := range validateJob(j) {
		p.add(j.Line, e.path, "%s", e.msg)
	}
	return j
}

// DefaultJobTable is the result table of a job whose spec names none: the
// job's name with dots replaced by underscores. The spec's decoder fills
// it in; a client that gets a job without its table (the Grafana plugin)
// uses it too.
func DefaultJobTable(job string) string { return strings.ReplaceAll(job, ".", "_") }

func applyJobDefaults(j *Job) {
	if j.Cron != "" && j.TimeZone == "" {
		j.TimeZone = DefaultTimeZone
	}
	if j.Table == "" && j.Name != "" {
		j.Table = DefaultJobTable(j.Name)
	}
	if j.Timeout == 0 {
		j.Timeout = DefaultJobTimeout
	}
	if j.Retries < 0 {
		j.Retries = DefaultJobRetries
	}
	if j.Backoff == 0 {
		j.Backoff = DefaultJobBackoff
	}
	if j.Concurrency == "" {
		j.Concurrency = Forbid
	}
	if len(j.WaitFor) > 0 && j.WaitMax == 0 {
		j.WaitMax = DefaultJobWaitMax
	}
}

type jobProblem struct{ path, msg string }

var (
	tableName   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	placeholder = regexp.MustCompile(`\{[a-zA-Z_][a-zA-Z0-9_]*\}`)
	selectStart = regexp.MustCompile(`(?i)^(select|with)\b`)
	cronParser  = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
)

// validateJob checks the rules of one job that need nothing else.
func validateJob(j *Job) []jobProblem {
	var out []jobProblem
	bad := func(path, format string, args ...any) {
		out = append(out, jobProblem{path, fmt.Sprintf(format, args...)})
	}
	if j.Name != "" && !feedName.MatchString(j.Name) {
		bad("name", "%q is not a valid job name: use dotted lower-case words, e.g. \"city.district_hourly\"", j.Name)
	}
	switch {
	case j.Cron == "" && j.Every == 0:
		bad("schedule", "missing: give a cron schedule (\"0 * * * *\") or every (\"5m\")")
	case j.Cron != "" && j.Every != 0:
		bad("every", "give either schedule %q or every %s, not both", j.Cron, j.Every)
	case j.Cron != "":
		if _, err := j.Schedule(); err != nil {
			bad("schedule", "%v", err)
		}
	default:
		if j.Every < time.Second || j.Every%time.Second != 0 {
			bad("every", "must be a whole number of seconds, 1s or more, not %s", j.Every)
		}
		if j.TimeZone != "" {
			bad("timezone", "applies only to a cron schedule; every %s is aligned to the Unix epoch", j.Every)
		}
	}
	if j.Delay < 0 {
		bad("delay", "must not be negative")
	}
	sql := strings.TrimSpace(j.SQL)
	switch {
	case j.SQL == "":
	case !selectStart.MatchString(sql):
		bad("sql", "must be one SELECT (or WITH ... SELECT) whose rows are written to the table")
	case strings.Contains(strings.TrimSuffix(sql, ";"), ";"):
		bad("sql", "must be a single statement; found a ';' inside it")
	}
	for _, ph := range placeholder.FindAllString(j.SQL, -1) {
		if ph != PlaceholderSlotStart && ph != PlaceholderSlotEnd {
			bad("sql", "unknown placeholder %s; valid placeholders are %s and %s", ph, PlaceholderSlotStart, PlaceholderSlotEnd)
		}
	}
	if j.Table != "" && !tableName.MatchString(j.Table) {
		bad("table", "%q is not a valid table name: use lower-case letters, digits and _, starting with a letter", j.Table)
	}
	if j.Retries > 20 {
		bad("retries", "must be between 0 and 20, not %d", j.Retries)
	}
	if j.Retries < 0 {
		bad("retries", "must not be negative")
	}
	if !slices.Contains([]Concurrency{Forbid, Allow, Replace}, j.Concurrency) {
		bad("concurrency", "must be forbid, allow or replace, not %q", j.Concurrency)
	}
	if j.Catchup < 0 {
		bad("catchup", "must not be negative")
	}
	for i, a := range j.After {
		if a == j.Name {
			bad(fmt.Sprintf("after[%d]", i), "a job cannot run after itself")
		}
		if slices.Index(j.After, a) != i {
			bad(fmt.Sprintf("after[%d]", i), "%q is listed twice", a)
		}
	}
	for i, f := range j.WaitFor {
		if slices.Index(j.WaitFor, f) != i {
			bad(fmt.Sprintf("wait_for[%d]", i), "%q is listed twice", f)
		}
	}
	return out
}

// checkJob checks a job's references: its wait_for feeds are in c, its after
// jobs exist (jobs looks them up) and following after never comes back to it.
func (c *Catalog) checkJob(j *Job, jobs func(string) *Job) []jobProblem {
	var out []jobProblem
	for i, f := range j.WaitFor {
		if c.Feed(f) == nil {
			out = append(out, jobProblem{fmt.Sprintf("wait_for[%d]", i), fmt.Sprintf("no feed called %q", f)})
		}
	}
	if f := c.feedByTable(j.Table); f != nil {
		out = append(out, jobProblem{"table", fmt.Sprintf("%q is the table of feed %s; pick another table", j.Table, f.Name)})
	}
	for i, a := range j.After {
		if a != j.Name && jobs(a) == nil {
			out = append(out, jobProblem{fmt.Sprintf("after[%d]", i), fmt.Sprintf("no job called %q", a)})
		}
	}
	if cycle := findCycle(j, jobs); cycle != nil {
		out = append(out, jobProblem{"after", "jobs depend on each other in a cycle: " + strings.Join(cycle, " → ")})
	}
	return out
}

func (c *Catalog) feedByTable(table string) *Feed {
	for _, f := range c.feeds {
		if f.Table() == table {
			return f
		}
	}
	return nil
}

// findCycle returns the path of a cycle through j's after links, or nil.
func findCycle(j *Job, jobs func(string) *Job) []string {
	var path []string
	onPath := map[string]bool{}
	done := map[string]bool{}
	var visit func(name string, jj *Job) []string
	visit = func(name string, jj *Job) []string {
		if onPath[name] {
			return append(append([]string(nil), path[slices.Index(path, name):]...), name)
		}
		if done[name] || jj == nil {
			return nil
		}
		onPath[name] = true
		path = append(path, name)
		for _, a := range jj.After {
			if a == name {
				continue // reported as running after itself
			}
			var next *Job
			if a == j.Name {
				next = j
			} else {
				next = jobs(a)
			}
			if c := visit(a, next); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		onPath[name] = false
		done[name] = true
		return nil
	}
	c := visit(j.Name, j)
	if c == nil || c[0] != j.Name {
		return nil // a cycle not through j is reported for its own members
	}
	return c
}

// ParseJob decodes and validates one job document (YAML or JSON, with or
// without "kind: job") that arrives outside spec files, such as through the
// jobs API. Besides the rules of the spec, its wait_for feeds must be in c
// and its after jobs must be found by jobs; name is used in messages. The
// error is an ErrorList.
func (c *Catalog) ParseJob(name string, data []byte, jobs func(string) *Job) (*Job, error) {
	p := &problems{file: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.add(yamlErrorLine(err), "", "not valid YAML or JSON: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, p.list
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		p.add(0, "", "a job must be a mapping of keys to values")
		return nil, p.list
	}
	root := doc.Content[0]
	hasKind := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "kind" {
			hasKind = true
			if v := root.Content[i+1].Value; v != "job" {
				p.add(root.Content[i+1].Line, "kind", "must be job, not %q", v)
			}
		}
	}
	if !hasKind {
		root.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "kind"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "job"},
		}, root.Content...)
	}
	j := decodeJob(p, root)
	if len(p.list) == 0 {
		for _, e := range c.checkJob(j, jobs) {
			p.add(j.Line, e.path, "%s", e.msg)
		}
	}
	if len(p.list) > 0 {
		return nil, p.list
	}
	return j, nil
}

// Sched yields the slots of a job's schedule.
type Sched interface {
	// Next returns the first slot boundary strictly after t.
	Next(t time.Time) time.Time
}

// every is a schedule of fixed-length slots aligned to the Unix epoch.
type every time.Duration

func (e every) Next(t time.Time) time.Time {
	d := int64(time.Duration(e) / time.Second)
	s := t.Unix()
	n := s - s%d
	if s < 0 && s%d != 0 {
		n -= d
	}
	return time.Unix(n+d, 0).UTC()
}

// Schedule compiles the job's schedule. Slots run from one boundary to the
// next: a slot starting at s ends at Next(s) and is due at its end plus Delay.
func (j *Job) Schedule() (Sched, error) {
	if j.Every > 0 {
		if j.Every < time.Second || j.Every%time.Second != 0 {
			return nil, fmt.Errorf("every %s is not a whole number of seconds", j.Every)
		}
		return every(j.Every), nil
	}
	if fields := strings.Fields(j.Cron); len(fields) != 5 {
		return nil, fmt.Errorf("%q is not a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. \"0 * * * *\"", j.Cron)
	}
	tz := j.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name like %s", tz, DefaultTimeZone)
	}
	s, err := cronParser.Parse(j.Cron)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %v", j.Cron, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron expression %q: unsupported form", j.Cron)
	}
	spec.Location = loc
	return cronSched{spec}, nil
}

type cronSched struct{ s *cron.SpecSchedule }

func (c cronSched) Next(t time.Time) time.Time {
	n := c.s.Next(t)
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// Render replaces the slot placeholders of the job's SQL with the slot's
// bounds as DateTime expressions.
func (j *Job) Render(start, end time.Time) string {
	r := strings.NewReplacer(
		PlaceholderSlotStart, fmt.Sprintf("toDateTime(%d)", start.Unix()),
		PlaceholderSlotEnd, fmt.Sprintf("toDateTime(%d)", end.Unix()),
	)
	return strings.TrimSuffix(strings.TrimSpace(r.Replace(j.SQL)), ";")
}
