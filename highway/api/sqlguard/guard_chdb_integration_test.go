//go:build integration

package sqlguard

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cityhighway/highway/internal/chdb"
	"github.com/cityhighway/highway/internal/testenv"
)

// secondOpinionTables are the tables the guard's test statements name,
// created in chdb with the columns the statements use, so that ClickHouse's
// analyzer can resolve each statement and say which tables it reads.
var secondOpinionTables = []string{
	"CREATE DATABASE IF NOT EXISTS highway",
	"CREATE DATABASE IF NOT EXISTS highway_restricted",
	"CREATE TABLE highway.td_traffic_detectors (detector_id String, district String, lane_id String, speed Float64, " +
		"period_from DateTime, name String, x Int32, a Int32) ENGINE = ReplacingMergeTree ORDER BY (district, intHash32(x)) SAMPLE BY intHash32(x)",
	"CREATE TABLE highway.hko_weather_temperature (district String, temperature Float64, x Int32, a Int32) ENGINE = Memory",
	"CREATE TABLE highway.police_cases (district String, suspect String, name String, x Int32) ENGINE = Memory",
	"CREATE TABLE highway.highway_audit (detail String) ENGINE = Memory",
	"CREATE TABLE highway_restricted.police_cases (district String, suspect String, name String, x Int32) ENGINE = Memory",
	"CREATE TABLE highway_restricted.epd_secret (district String) ENGINE = Memory",
	"CREATE TABLE highway_restricted.highway_audit (detail String) ENGINE = Memory",
	// A statement that is not a SELECT must not parse as one.
	"SET implicit_select = 0",
	"USE highway",
}

// admitted is one statement the guard accepted, with the policy it was
// checked against and where it came from.
type admitted struct {
	from, sql string
	p         Policy
	tables    []string
}

// admittedCorpus runs the guard over every statement its tests and fuzz
// corpus hold and returns those it accepts.
func admittedCorpus(t *testing.T) []admitted {
	type input struct {
		from, sql string
		p         Policy
	}
	var in []input
	for _, tc := range accepted {
		in = append(in, input{"accepted", tc.sql, testPolicy})
	}
	for _, tc := range hostile {
		in = append(in, input{"hostile", tc.sql, testPolicy})
	}
	for _, tc := range restrictedCases {
		in = append(in, input{"restrictedCases " + tc.name, tc.sql, tc.p})
	}
	for target, p := range map[string]Policy{"FuzzGuard": testPolicy, "FuzzGuardRestricted": openPolicy} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			sql, err := fuzzInput(f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			in = append(in, input{f, sql, p})
			// The fuzz targets run every seed on both policies' guards.
			in = append(in, input{f + " (granted)", sql, grantedPolicy})
		}
	}
	var out []admitted
	for _, x := range in {
		res, err := Check(x.sql, x.p)
		var rej *Rejection
		switch {
		case errors.As(err, &rej):
		case err != nil:
			t.Fatalf("%s: %q: %v", x.from, x.sql, err)
		default:
			out = append(out, admitted{x.from, x.sql, x.p, res.Tables})
		}
	}
	return out
}

// fuzzInput reads a Go fuzz corpus file of one string argument.
func fuzzInput(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "string(") || !strings.HasSuffix(lines[1], ")") {
		return "", errors.New("not a go fuzz corpus file of one string")
	}
	return strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
}

var (
	astRoot      = regexp.MustCompile(`^SelectWithUnionQuery\b`)
	treeTable    = regexp.MustCompile(`\bTABLE id: \d+(?:, alias: \w+)?, table_name: ([^\s,]+)`)
	treeFunction = regexp.MustCompile(`\bTABLE_FUNCTION id: \d+.*table_function_name: (\w+)`)
)

// secondOpinion is what ClickHouse makes of an admitted statement: nil
// when it agrees with the guard, else the disagreement.
func secondOpinion(s *chdb.Session, a admitted) (disagreement string, analysed bool) {
	ast, err := s.Text("EXPLAIN AST "+a.sql, "TabSeparatedRaw")
	if err != nil {
		return "ClickHouse does not parse it: " + chdbMessage(err), false
	}
	if !astRoot.MatchString(ast) {
		return "ClickHouse parses it as " + strings.SplitN(ast, "\n", 2)[0] + ", not one SELECT", false
	}
	tree, err := s.Text("EXPLAIN QUERY TREE "+a.sql, "TabSeparatedRaw")
	if err != nil {
		return "", false // the analyzer wants columns or functions this test does not have: parsed only
	}
	if m := treeFunction.FindStringSubmatch(tree); m != nil {
		return "ClickHouse reads the table function " + m[1], true
	}
	var read []string
	for _, m := range treeTable.FindAllStringSubmatch(tree, -1) {
		name := m[1]
		if name == "system.one" { // what a SELECT without FROM reads
			continue
		}
		name = strings.TrimPrefix(name, a.p.Database+".")
		if !slices.Contains(read, name) {
			read = append(read, name)
		}
	}
	sort.Strings(read)
	for _, r := range read {
		if !slices.Contains(a.tables, r) {
			return "ClickHouse reads " + r + ", which the guard did not find (it found " + strings.Join(a.tables, ", ") + ")", true
		}
	}
	if !slices.Equal(read, a.tables) && !(len(read) == 0 && len(a.tables) == 0) {
		return "ClickHouse reads " + strings.Join(read, ", ") + "; the guard found " + strings.Join(a.tables, ", "), true
	}
	return "", true
}

func chdbMessage(err error) string {
	var e *chdb.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// knownDifferences are statements the guard admits and ClickHouse 26.x
// reads differently, each with why that is not a guard bug. Keep it short:
// every other disagreement fails the test.
var knownDifferences = map[string]string{
	// TOP is a keyword of current ClickHouse (SELECT TOP n), so the alias
	// top cannot be read back bare; 18.16 has no TOP. Refused by the
	// server, it reads nothing.
	"WITH (SELECT max(speed) FROM td_traffic_detectors) AS top SELECT top": "top is a keyword since ClickHouse 23",
	// Fuzz seeds: broken statements that the guard admits because nothing
	// in them can read a table (the guard checks what a statement may
	// read, it is not ClickHouse's grammar); the server refuses them with
	// a syntax error.
	"SELECT IN poliCe_CAses()":                    "a syntax error: IN without a left operand; the name is a call, not a table",
	"SELECT ArrAY JOIN poliCe_CAses":              "a syntax error: ARRAY JOIN without FROM",
	"SELECT EXTRACT(0 FROM highway_restricted.)0": "a syntax error: a database without a table, inside an expression",
}

// TestGuardSecondOpinion asks current ClickHouse (chdb) about every
// statement the guard admits in its tests and fuzz corpus: it must parse
// as one SELECT, and where ClickHouse's analyzer can resolve it (against
// tables made for the test) read exactly the tables the guard found. The
// guard is the gate; this is a second opinion from an independent parser.
func TestGuardSecondOpinion(t *testing.T) {
	s := testenv.Chdb(t)
	for _, q := range secondOpinionTables {
		if err := s.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	// The second opinion itself must be able to disagree.
	for _, bad := range []admitted{
		{sql: "SELECT * FROM police_cases", p: testPolicy, tables: []string{"td_traffic_detectors"}},
		{sql: "SELECT * FROM numbers(3)", p: testPolicy},
		{sql: "SHOW TABLES", p: testPolicy},
	} {
		if d, _ := secondOpinion(s, bad); d == "" {
			t.Fatalf("no disagreement about %q reading %v", bad.sql, bad.tables)
		}
	}
	corpus := admittedCorpus(t)
	if len(corpus) < len(accepted) {
		t.Fatalf("the guard admits %d statements of its corpus, fewer than its %d accepted cases", len(corpus), len(accepted))
	}
	analysed, known := 0, 0
	for _, a := range corpus {
		d, ok := secondOpinion(s, a)
		if ok {
			analysed++
		} else if d == "" {
			t.Logf("parsed, not analysed: %q", a.sql)
		}
		if d == "" {
			continue
		}
		if why, ok := knownDifferences[a.sql]; ok {
			known++
			t.Logf("known difference: %q: %s (%s)", a.sql, d, why)
			continue
		}
		t.Errorf("%s: the guard admits %q; %s", a.from, a.sql, d)
	}
	t.Logf("%d admitted statements, %d known differences, %d analysed for the tables they read", len(corpus), known, analysed)
}
