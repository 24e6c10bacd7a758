package sqlguard

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// grantedPolicy reads an open table and the restricted police_cases, which
// live in the restricted database; epd_secret is restricted and hidden.
var grantedPolicy = Policy{
	Database:   "highway",
	Restricted: "highway_restricted",
	Tables:     map[string]bool{"td_traffic_detectors": true, "highway_restricted.police_cases": true},
	Hidden:     map[string]bool{"highway_restricted.epd_secret": true, "highway_restricted.highway_audit": true},
}

// openPolicy is a caller without restricted grants in the same layout.
var openPolicy = Policy{
	Database:   "highway",
	Restricted: "highway_restricted",
	Tables:     map[string]bool{"td_traffic_detectors": true},
	Hidden:     map[string]bool{"highway_restricted.police_cases": true, "highway_restricted.epd_secret": true, "highway_restricted.highway_audit": true},
}

// adminPolicy reads everything, the audit log too, which is in the
// restricted database like restricted feeds' tables.
var adminPolicy = Policy{
	Database:   "highway",
	Restricted: "highway_restricted",
	Tables: map[string]bool{"td_traffic_detectors": true, "highway_restricted.police_cases": true, "highway_restricted.epd_secret": true,
		"highway_restricted.highway_audit": true},
}

// restrictedCases name restricted tables as highway_restricted.table, the
// only way user SQL reaches them.
var restrictedCases = []struct {
	name   string
	p      Policy
	sql    string
	tables []string // when accepted
	code   string   // when refused
	reason string   // a part of the refusal's reason
	pos    int
}{
	{name: "granted, qualified", p: grantedPolicy, sql: "SELECT * FROM highway_restricted.police_cases",
		tables: []string{"highway_restricted.police_cases"}},
	{name: "granted, quoted, joined with an open table", p: grantedPolicy,
		sql:    "SELECT * FROM `highway_restricted`.`police_cases` AS p JOIN td_traffic_detectors USING (district)",
		tables: []string{"highway_restricted.police_cases", "td_traffic_detectors"}},
	{name: "granted, on the right of IN", p: grantedPolicy, sql: "SELECT * FROM td_traffic_detectors WHERE district IN highway_restricted.police_cases",
		tables: []string{"highway_restricted.police_cases", "td_traffic_detectors"}},
	{name: "granted, open only", p: grantedPolicy, sql: "SELECT * FROM highway.td_traffic_detectors", tables: []string{"td_traffic_detectors"}},
	{name: "granted, bare restricted name gets a hint", p: grantedPolicy, sql: "SELECT * FROM police_cases",
		code: CodeTable, reason: "write it as highway_restricted.police_cases", pos: 14},
	{name: "granted, restricted table in the open database", p: grantedPolicy, sql: "SELECT * FROM highway.police_cases", code: CodeTable, pos: 14},
	{name: "granted, another restricted table", p: grantedPolicy, sql: "SELECT 1 FROM highway_restricted.epd_secret", code: CodeTable, pos: 14},
	{name: "granted, database name in another case", p: grantedPolicy, sql: "SELECT * FROM Highway_Restricted.police_cases", code: CodeDatabase,
		reason: "a restricted one as highway_restricted.table", pos: 14},
	{name: "ungranted, qualified", p: openPolicy, sql: "SELECT * FROM highway_restricted.police_cases",
		code: CodeTable, reason: `no table "highway_restricted.police_cases"`, pos: 14},
	{name: "ungranted, bare name leaks nothing", p: openPolicy, sql: "SELECT * FROM police_cases", code: CodeTable, reason: `no table "police_cases"`, pos: 14},
	{name: "ungranted, subquery", p: openPolicy, sql: "SELECT * FROM (SELECT * FROM highway_restricted.police_cases)", code: CodeTable, pos: 29},
	{name: "ungranted, union", p: openPolicy, sql: "SELECT 1 UNION ALL SELECT count() FROM highway_restricted.police_cases", code: CodeTable, pos: 39},
	{name: "ungranted, IN group", p: openPolicy, sql: "SELECT * FROM td_traffic_detectors WHERE x IN (highway_restricted.police_cases)", code: CodeInOperand, pos: 47},
	{name: "ungranted, WITH name of a restricted table", p: openPolicy, sql: "WITH police_cases AS (SELECT 1) SELECT * FROM police_cases", code: CodeCTEName, pos: 5},
	{name: "ungranted, expression FROM", p: openPolicy, sql: "SELECT EXTRACT(DAY FROM highway_restricted.police_cases) FROM td_traffic_detectors", code: CodeTable, pos: 24},
	{name: "ungranted, other database", p: openPolicy, sql: "SELECT * FROM other.police_cases", code: CodeDatabase, pos: 14},
	{name: "admin, the audit log", p: adminPolicy, sql: "SELECT * FROM highway_restricted.highway_audit", tables: []string{"highway_restricted.highway_audit"}},
	{name: "admin, the audit log by its bare name gets a hint", p: adminPolicy, sql: "SELECT * FROM highway_audit",
		code: CodeTable, reason: "write it as highway_restricted.highway_audit", pos: 14},
	{name: "granted, not the audit log", p: grantedPolicy, sql: "SELECT * FROM highway_restricted.highway_audit",
		code: CodeTable, reason: `no table "highway_restricted.highway_audit"`, pos: 14},
	{name: "granted, the audit log's bare name leaks nothing", p: grantedPolicy, sql: "SELECT * FROM highway_audit",
		code: CodeTable, reason: `no table "highway_audit"`, pos: 14},
	{name: "ungranted, not the audit log", p: openPolicy, sql: "SELECT * FROM td_traffic_detectors WHERE x IN (SELECT detail FROM highway_restricted.highway_audit)",
		code: CodeTable, reason: `no table "highway_restricted.highway_audit"`, pos: 66},
}

func TestGuardRestrictedDatabase(t *testing.T) {
	for _, tc := range restrictedCases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Check(tc.sql, tc.p)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !slices.Equal(res.Tables, tc.tables) {
					t.Errorf("reads %v, want %v", res.Tables, tc.tables)
				}
				want := slices.ContainsFunc(tc.tables, func(s string) bool { return strings.HasPrefix(s, "highway_restricted.") })
				if res.ReadsRestricted(tc.p) != want {
					t.Errorf("ReadsRestricted = %v, want %v", !want, want)
				}
				return
			}
			var rej *Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("accepted (%v), want %s", err, tc.code)
			}
			if rej.Code != tc.code || !strings.Contains(rej.Reason, tc.reason) || rej.Pos != tc.pos {
				t.Errorf("refused as %s at %d: %q; want %s at %d with %q", rej.Code, rej.Pos, rej.Reason, tc.code, tc.pos, tc.reason)
			}
			if tc.p.Tables["highway_restricted.police_cases"] == false && strings.Contains(rej.Reason, "restricted table") {
				t.Errorf("the refusal tells a caller without the grant that the table is restricted: %q", rej.Reason)
			}
		})
	}
}

// FuzzGuardRestricted checks, for a caller without restricted grants, that
// nothing accepted reads the restricted database.
func FuzzGuardRestricted(f *testing.F) {
	for _, tc := range restrictedCases {
		f.Add(tc.sql)
	}
	for _, tc := range accepted {
		f.Add(tc.sql)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		res, err := Check(sql, openPolicy)
		if err != nil {
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Code == "" || rej.Pos < 0 || rej.Pos > len(sql) {
				t.Fatalf("%q: malformed refusal %v", sql, err)
			}
			return
		}
		if res.ReadsRestricted(openPolicy) {
			t.Fatalf("%q: accepted, reading the restricted database: %v", sql, res.Tables)
		}
		toks, _ := lex(sql)
		for i := 0; i+2 < len(toks); i++ {
			hidden := toks[i+2].ident() && (strings.EqualFold(toks[i+2].name, "police_cases") || strings.EqualFold(toks[i+2].name, "epd_secret"))
			if toks[i].ident() && strings.EqualFold(toks[i].name, "highway_restricted") && toks[i+1].is(".") && hidden && i > 0 {
				switch toks[i-1].upper() {
				case "FROM", "JOIN", "IN":
					t.Fatalf("%q: accepted with the restricted database after %s", sql, toks[i-1].upper())
				}
			}
		}
	})
}
