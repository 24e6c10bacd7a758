// Package macros expands the time macros of the Highway datasource's SQL
// queries ($__timeFilter(col), $__timeGroup(col, 5m), $__fromTime, ...) into
// SQL that runs on ClickHouse 18.16 and on current versions: times are
// DateTime (seconds, UTC), buckets are made with intDiv(toUInt32(col), N) * N
// because 18.16 has no toStartOfInterval, and no DateTime64 is used.
//
// Template variables ($station, ${district:csv}) are not macros: Grafana's
// frontend replaces them before the query reaches the backend. Any other
// word starting with "$__" is an error that names it, so a typo never reaches
// ClickHouse as a confusing syntax error.
package macros

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/gtime"
)

// Range is what a query knows about its panel: the time range and the
// interval Grafana chose for it ($__interval).
type Range struct {
	From, To time.Time
	// Interval is the panel's interval; below one second it counts as one
	// second, since ClickHouse's DateTime has second precision.
	Interval time.Duration
}

// ErrMacro is the parent of every error of Expand: the query is the user's
// to fix. The message names the macro and says why.
var ErrMacro = errors.New("macro")

// macro expands one macro call; args are the trimmed arguments between the
// parentheses, or nil when the macro was written without parentheses.
type macro struct {
	// usage is shown in errors, e.g. "$__timeGroup(column, interval)".
	usage string
	// args is the number of arguments the macro takes; -1 for "one or two".
	args   int
	expand func(r Range, args []string) (string, error)
}

// registry lists every macro, one line each. Names are matched longest
// first, so $__timeFilter_ms is never read as $__timeFilter followed by "_ms".
var registry = map[string]macro{
	"timeFilter": {"$__timeFilter(column)", 1, func(r Range, a []string) (string, error) {
		return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", a[0], r.From.Unix(), a[0], r.To.Unix()), nil
	}},
	"timeFilter_ms": {"$__timeFilter_ms(column)", 1, func(r Range, a []string) (string, error) {
		return fmt.Sprintf("%s >= %d AND %s <= %d", a[0], r.From.UnixMilli(), a[0], r.To.UnixMilli()), nil
	}},
	"unixEpochFilter": {"$__unixEpochFilter(column)", 1, func(r Range, a []string) (string, error) {
		return fmt.Sprintf("%s >= %d AND %s <= %d", a[0], r.From.Unix(), a[0], r.To.Unix()), nil
	}},
	"dateFilter": {"$__dateFilter(column)", 1, func(r Range, a []string) (string, error) {
		return fmt.Sprintf("%s >= toDate('%s') AND %s <= toDate('%s')", a[0], r.From.UTC().Format("2006-01-02"), a[0], r.To.UTC().Format("2006-01-02")), nil
	}},
	"timeGroup": {"$__timeGroup(column, interval)", 2, func(r Range, a []string) (string, error) {
		s, err := bucketSeconds(r, a[1])
		if err != nil {
			return "", err
		}
		return TimeGroup(a[0], s), nil
	}},
	"timeGroupAlias": {"$__timeGroupAlias(column, interval)", 2, func(r Range, a []string) (string, error) {
		s, err := bucketSeconds(r, a[1])
		if err != nil {
			return "", err
		}
		return TimeGroup(a[0], s) + " AS time", nil
	}},
	"fromTime": {"$__fromTime", 0, func(r Range, _ []string) (string, error) {
		return fmt.Sprintf("toDateTime(%d)", r.From.Unix()), nil
	}},
	"toTime": {"$__toTime", 0, func(r Range, _ []string) (string, error) {
		return fmt.Sprintf("toDateTime(%d)", r.To.Unix()), nil
	}},
	"fromTime_ms": {"$__fromTime_ms", 0, func(r Range, _ []string) (string, error) {
		return strconv.FormatInt(r.From.UnixMilli(), 10), nil
	}},
	"toTime_ms": {"$__toTime_ms", 0, func(r Range, _ []string) (string, error) {
		return strconv.FormatInt(r.To.UnixMilli(), 10), nil
	}},
	"interval_s": {"$__interval_s", 0, func(r Range, _ []string) (string, error) {
		return strconv.FormatInt(IntervalSeconds(r.Interval), 10), nil
	}},
	// $__interval and $__interval_ms are Grafana's own variables; the
	// frontend replaces them, but alerting sends queries straight to the
	// backend, so they are expanded here too.
	"interval": {"$__interval", 0, func(r Range, _ []string) (string, error) {
		return strconv.FormatInt(IntervalSeconds(r.Interval), 10) + "s", nil
	}},
	"interval_ms": {"$__interval_ms", 0, func(r Range, _ []string) (string, error) {
		return strconv.FormatInt(max(r.Interval.Milliseconds(), 1000), 10), nil
	}},
}

// names lists the registry's names, longest first, for matching.
var names = func() []string {
	n := make([]string, 0, len(registry))
	for k := range registry {
		n = append(n, k)
	}
	sort.Slice(n, func(i, j int) bool {
		if len(n[i]) != len(n[j]) {
			return len(n[i]) > len(n[j])
		}
		return n[i] < n[j]
	})
	return n
}()

// Names returns the usage of every macro, for docs and error hints.
func Names() []string {
	out := make([]string, 0, len(registry))
	for _, m := range registry {
		out = append(out, m.usage)
	}
	sort.Strings(out)
	return out
}

var wordRe = regexp.MustCompile(`^[A-Za-z0-9_]+`)

// Expand replaces every macro in sql. It skips string literals ('...') and
// comments (-- and /* */), so a macro quoted in a string is left alone.
// It is pure and safe for concurrent use. The error wraps ErrMacro and says
// which macro is wrong and why.
func Expand(sql string, r Range) (string, error) {
	var b strings.Builder
	b.Grow(len(sql) + 64)
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := skipQuoted(sql, i)
			b.WriteString(sql[i:j])
			i = j
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = len(sql) - i
			}
			b.WriteString(sql[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			end := len(sql)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(sql[i:end])
			i = end
		case c == '$' && strings.HasPrefix(sql[i:], "$__"):
			out, next, err := expandAt(sql, i, r)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i = next
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// expandAt expands the macro that starts at sql[i] ("$__...") and returns
// its SQL and the position after it.
func expandAt(sql string, i int, r Range) (string, int, error) {
	word := wordRe.FindString(sql[i+3:])
	var name string
	for _, n := range names {
		if word == n {
			name = n
			break
		}
	}
	if name == "" {
		return "", 0, fmt.Errorf("%w $__%s: unknown macro; the macros are %s", ErrMacro, word, strings.Join(Names(), ", "))
	}
	m := registry[name]
	next := i + 3 + len(name)
	var args []string
	if next < len(sql) && sql[next] == '(' {
		inner, end, err := parenthesised(sql, next)
		if err != nil {
			return "", 0, fmt.Errorf("%w %s: %v", ErrMacro, m.usage, err)
		}
		args = splitArgs(inner)
		next = end
	}
	switch {
	case m.args == 0 && args != nil:
		return "", 0, fmt.Errorf("%w $__%s takes no arguments; write %s", ErrMacro, name, m.usage)
	case m.args > 0 && len(args) != m.args:
		return "", 0, fmt.Errorf("%w $__%s: expected %d argument(s), got %d; write %s", ErrMacro, name, m.args, len(args), m.usage)
	}
	for k, a := range args {
		if a == "" {
			return "", 0, fmt.Errorf("%w $__%s: argument %d is empty; write %s", ErrMacro, name, k+1, m.usage)
		}
	}
	out, err := m.expand(r, args)
	if err != nil {
		return "", 0, fmt.Errorf("%w $__%s: %v", ErrMacro, name, err)
	}
	return out, next, nil
}

// skipQuoted returns the position after the quoted string or identifier
// starting at sql[i]; backslash escapes and doubled quotes are honoured.
func skipQuoted(sql string, i int) int {
	q := sql[i]
	j := i + 1
	for j < len(sql) {
		switch sql[j] {
		case '\\':
			j += 2
			continue
		case q:
			if j+1 < len(sql) && sql[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		}
		j++
	}
	return len(sql)
}

// parenthesised returns what is between the '(' at sql[open] and its
// matching ')', and the position after that ')'.
func parenthesised(sql string, open int) (string, int, error) {
	depth := 0
	for j := open; j < len(sql); {
		switch sql[j] {
		case '\'', '"', '`':
			j = skipQuoted(sql, j)
			continue
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return sql[open+1 : j], j + 1, nil
			}
		}
		j++
	}
	return "", 0, errors.New("missing closing parenthesis")
}

// splitArgs splits at top-level commas and trims each argument.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for j := 0; j < len(s); {
		switch s[j] {
		case '\'', '"', '`':
			j = skipQuoted(s, j)
			continue
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:j]))
				start = j + 1
			}
		}
		j++
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// bucketSeconds reads the interval argument of $__timeGroup: a Grafana
// duration ("30s", "5m", "1h", "1d"), quoted or not, a number of seconds,
// or "$__interval" / "auto" for the panel's interval.
func bucketSeconds(r Range, arg string) (int64, error) {
	a := strings.Trim(arg, `'"`)
	switch a {
	case "$__interval", "auto", "":
		return IntervalSeconds(r.Interval), nil
	}
	if n, err := strconv.ParseInt(a, 10, 64); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("interval %q must be positive", arg)
		}
		return n, nil
	}
	d, err := gtime.ParseDuration(a)
	if err != nil {
		return 0, fmt.Errorf("interval %q is not a duration like 30s, 5m, 1h or $__interval", arg)
	}
	if d < time.Second {
		return 0, fmt.Errorf("interval %q is below one second, the precision of DateTime", arg)
	}
	return int64(d / time.Second), nil
}

// IntervalSeconds is the interval in whole seconds, at least 1.
func IntervalSeconds(d time.Duration) int64 {
	return max(int64(d/time.Second), 1)
}

// TimeGroup is the SQL that puts col into buckets of seconds seconds, as a
// DateTime: intDiv(toUInt32(col), N) * N, the form ClickHouse 18.16 can run.
func TimeGroup(col string, seconds int64) string {
	return fmt.Sprintf("toDateTime(intDiv(toUInt32(%s), %d) * %d)", col, seconds, seconds)
}
