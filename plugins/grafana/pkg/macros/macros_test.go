package macros

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testRange = Range{
	From:     time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), // 1795651200
	To:       time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC), // 1795672800
	Interval: 30 * time.Second,
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name, sql, want string
	}{
		{"no macros", "SELECT 1", "SELECT 1"},
		{"timeFilter", "WHERE $__timeFilter(period_from)",
			"WHERE period_from >= toDateTime(1795651200) AND period_from <= toDateTime(1795672800)"},
		{"timeFilter with expression", "WHERE $__timeFilter(toDateTime(ts, 'UTC'))",
			"WHERE toDateTime(ts, 'UTC') >= toDateTime(1795651200) AND toDateTime(ts, 'UTC') <= toDateTime(1795672800)"},
		{"timeFilter_ms", "$__timeFilter_ms(ms)", "ms >= 1795651200000 AND ms <= 1795672800000"},
		{"unixEpochFilter", "$__unixEpochFilter(t)", "t >= 1795651200 AND t <= 1795672800"},
		{"dateFilter", "$__dateFilter(d)", "d >= toDate('2026-11-26') AND d <= toDate('2026-11-26')"},
		{"timeGroup duration", "$__timeGroup(record_time, 5m)", "toDateTime(intDiv(toUInt32(record_time), 300) * 300)"},
		{"timeGroup quoted", "$__timeGroup(record_time, '1h')", "toDateTime(intDiv(toUInt32(record_time), 3600) * 3600)"},
		{"timeGroup seconds", "$__timeGroup(record_time, 90)", "toDateTime(intDiv(toUInt32(record_time), 90) * 90)"},
		{"timeGroup day", "$__timeGroup(record_time, 1d)", "toDateTime(intDiv(toUInt32(record_time), 86400) * 86400)"},
		{"timeGroup panel interval", "$__timeGroup(t, $__interval)", "toDateTime(intDiv(toUInt32(t), 30) * 30)"},
		{"timeGroup auto", "$__timeGroup(t, auto)", "toDateTime(intDiv(toUInt32(t), 30) * 30)"},
		{"timeGroupAlias", "SELECT $__timeGroupAlias(t, 1m), avg(x)", "SELECT toDateTime(intDiv(toUInt32(t), 60) * 60) AS time, avg(x)"},
		{"fromTime toTime", "BETWEEN $__fromTime AND $__toTime", "BETWEEN toDateTime(1795651200) AND toDateTime(1795672800)"},
		{"ms bounds", "$__fromTime_ms,$__toTime_ms", "1795651200000,1795672800000"},
		{"interval_s", "intDiv(toUInt32(t), $__interval_s) * $__interval_s", "intDiv(toUInt32(t), 30) * 30"},
		{"interval and interval_ms", "'$__interval' $__interval $__interval_ms", "'$__interval' 30s 30000"},
		{"string literal left alone", "SELECT '$__timeFilter(x)' AS s", "SELECT '$__timeFilter(x)' AS s"},
		{"escaped quote in literal", `SELECT 'it\'s $__fromTime', $__fromTime`, `SELECT 'it\'s $__fromTime', toDateTime(1795651200)`},
		{"line comment left alone", "SELECT 1 -- $__nope\n, $__interval_s", "SELECT 1 -- $__nope\n, 30"},
		{"block comment left alone", "SELECT /* $__nope( */ $__interval_s", "SELECT /* $__nope( */ 30"},
		{"template variable untouched", "WHERE station IN ($station)", "WHERE station IN ($station)"},
		{"nested parens and comma in arg", "$__timeGroup(if(a, b, c), 1m)", "toDateTime(intDiv(toUInt32(if(a, b, c)), 60) * 60)"},
		{"two macros", "$__timeGroupAlias(t, 1h) WHERE $__timeFilter(t)",
			"toDateTime(intDiv(toUInt32(t), 3600) * 3600) AS time WHERE t >= toDateTime(1795651200) AND t <= toDateTime(1795672800)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.sql, testRange)
			if err != nil {
				t.Fatalf("Expand(%q): %v", tc.sql, err)
			}
			if got != tc.want {
				t.Errorf("Expand(%q)\n got %q\nwant %q", tc.sql, got, tc.want)
			}
		})
	}
}

func TestExpandSubSecondInterval(t *testing.T) {
	r := testRange
	r.Interval = 200 * time.Millisecond
	got, err := Expand("$__interval_s $__interval_ms $__timeGroup(t, $__interval)", r)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1 1000 toDateTime(intDiv(toUInt32(t), 1) * 1)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct {
		name, sql string
		// wants are substrings of the message: the macro and the reason.
		wants []string
	}{
		{"unknown macro", "WHERE $__timeFiltr(t)", []string{"$__timeFiltr", "unknown macro", "$__timeFilter(column)"}},
		{"timeFilter without args", "WHERE $__timeFilter", []string{"$__timeFilter", "expected 1 argument", "got 0"}},
		{"timeFilter two args", "WHERE $__timeFilter(a, b)", []string{"$__timeFilter", "got 2"}},
		{"timeFilter empty", "WHERE $__timeFilter()", []string{"$__timeFilter", "argument 1 is empty"}},
		{"timeGroup one arg", "$__timeGroup(t)", []string{"$__timeGroup", "expected 2", "(column, interval)"}},
		{"timeGroup bad interval", "$__timeGroup(t, fortnight)", []string{"$__timeGroup", `"fortnight"`, "not a duration"}},
		{"timeGroup sub-second", "$__timeGroup(t, 500ms)", []string{"$__timeGroup", "below one second"}},
		{"timeGroup zero", "$__timeGroup(t, 0)", []string{"$__timeGroup", "must be positive"}},
		{"unclosed", "WHERE $__timeFilter(t AND x", []string{"$__timeFilter(column)", "missing closing parenthesis"}},
		{"args to a constant", "$__fromTime(1)", []string{"$__fromTime", "takes no arguments"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Expand(tc.sql, testRange)
			if err == nil {
				t.Fatalf("Expand(%q): no error", tc.sql)
			}
			if !errors.Is(err, ErrMacro) {
				t.Errorf("error %v does not wrap ErrMacro", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"SELECT $__timeGroupAlias(t, 5m), avg(x) FROM td WHERE $__timeFilter(t) GROUP BY time",
		"'$__x' -- $__y\n /* $__z */ $__interval_s",
		"$__timeGroup(if(a,(b),c), '1h')", "$__", "$__timeFilter(", `'\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		out, err := Expand(sql, testRange)
		if err == nil && !strings.Contains(sql, "$__") && out != sql {
			t.Fatalf("SQL without macros changed: %q -> %q", sql, out)
		}
	})
}
