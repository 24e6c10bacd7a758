// Package sqlguard decides whether a caller's SQL may run on ClickHouse: one
// SELECT (or WITH … SELECT) statement that reads only tables the caller may
// see, through no table function, no system table, no other database, and
// no function that reaches tables or the outside by name.
//
// It reads the statement with a real tokenizer (strings, quoted
// identifiers, comments) that refuses every construct ClickHouse versions
// lex differently, then walks the tokens tracking parentheses, so a table
// cannot hide in a subquery, a JOIN, a UNION or the right side of IN. It is
// the first of three defences: the API also runs every query with
// ClickHouse's readonly=1 and resource limits, and runs it as a ClickHouse
// user that cannot read the restricted database unless the caller may read
// a restricted table the statement reads (see highway/api's package
// documentation).
//
// Tables of the policy's Database are named alone or as Database.table;
// tables of its Restricted database only as Restricted.table, and under
// that name they appear in Policy.Tables and Result.Tables.
//
// The guard errs towards refusing: a statement it cannot place is refused
// with a reason and a byte position, never let through.
package sqlguard

import (
	"fmt"
	"sort"
	"strings"
)

// Codes of rejections: stable, few, for metrics labels and clients.
const (
	CodeSyntax      = "syntax"   // the tokenizer refused the text
	CodeEmpty       = "empty"    // nothing but whitespace and comments
	CodeTooLong     = "too_long" // longer than MaxLength
	CodeMulti       = "multiple_statements"
	CodeNotSelect   = "not_select"        // not SELECT or WITH
	CodeKeyword     = "forbidden_keyword" // INSERT, DROP, SETTINGS, INTO OUTFILE, ...
	CodeTableFunc   = "table_function"    // url(), file(), remote(), numbers(), ...
	CodeFunction    = "forbidden_function"
	CodeSystem      = "system_table" // system.*, information_schema
	CodeDatabase    = "other_database"
	CodeTable       = "unknown_table" // not a table the caller may read
	CodeInOperand   = "in_operand"    // a name on the right of IN that is no readable table
	CodeCTEName     = "cte_name"      // a WITH name that shadows a table the caller may not read
	CodeTableSyntax = "table_syntax"  // FROM or JOIN not followed by a table or subquery
)

// MaxLength is the longest statement accepted, in bytes.
const MaxLength = 64 << 10

// Rejection says why a statement was refused and where.
type Rejection struct {
	// Code is one of the Code constants.
	Code string
	// Reason is a sentence for the user.
	Reason string
	// Pos is the byte offset in the statement where the problem is.
	Pos int
}

// Error formats the rejection as "reason (at byte N)".
func (r *Rejection) Error() string { return fmt.Sprintf("%s (at byte %d)", r.Reason, r.Pos) }

func reject(code string, pos int, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Pos: pos, Reason: fmt.Sprintf(format, args...)}
}

// Policy is what one caller may read.
type Policy struct {
	// Database is the database of the open tables, which is also the
	// default database of the connection the query runs on: a name may be
	// written as table or as Database.table.
	Database string
	// Restricted is the database of the restricted tables (empty: none).
	// Its tables are always written Restricted.table.
	Restricted string
	// Tables are the tables the caller may read, by exact (case-sensitive)
	// name, as ClickHouse compares them: "table" in Database,
	// "Restricted.table" in Restricted.
	Tables map[string]bool
	// Hidden are the tables that exist but the caller may not read, named
	// as in Tables. A WITH name may not take one of these names (or the
	// table part of a restricted one), so that no ClickHouse version can
	// read a WITH name as the table.
	Hidden map[string]bool
	// Personal are, per table named as in Tables, the columns the caller
	// may not read (personal fields of others' feeds); see CodePersonal.
	Personal map[string][]string
}

// Result is what an accepted statement reads.
type Result struct {
	// Tables are the tables read, sorted, without duplicates, named as in
	// Policy.Tables.
	Tables []string
}

// ReadsRestricted reports whether the result reads a table of the
// policy's Restricted database.
func (r Result) ReadsRestricted(p Policy) bool {
	for _, t := range r.Tables {
		if p.Restricted != "" && strings.HasPrefix(t, p.Restricted+".") {
			return true
		}
	}
	return false
}

// forbidden are keywords that have no place in a read-only query. A word in
// callable may still be used as a function name (truncate(x), replace(s,
// a, b), format('{}', x)).
var forbidden = map[string]bool{
	"INSERT": true, "ALTER": true, "DROP": true, "CREATE": true, "SYSTEM": true, "KILL": true,
	"SET": true, "OPTIMIZE": true, "ATTACH": true, "DETACH": true, "RENAME": true, "TRUNCATE": true,
	"GRANT": true, "REVOKE": true, "DELETE": true, "UPDATE": true, "REPLACE": true, "EXCHANGE": true,
	"USE": true, "INTO": true, "OUTFILE": true, "SETTINGS": true, "FORMAT": true, "UNDROP": true,
	"BACKUP": true, "RESTORE": true, "MOVE": true, "WATCH": true, "EXPLAIN": true, "DESCRIBE": true,
	"SHOW": true, "CHECK": true,
}

var callable = map[string]bool{"TRUNCATE": true, "REPLACE": true, "FORMAT": true}

// deniedFuncs are functions that read tables, files, URLs or other servers
// by name, or run programs, wherever they appear (lower case).
var deniedFuncs = map[string]bool{
	"url": true, "urlcluster": true, "file": true, "filecluster": true, "remote": true, "remotesecure": true,
	"cluster": true, "clusterallreplicas": true, "s3": true, "s3cluster": true, "hdfs": true, "hdfscluster": true,
	"mysql": true, "postgresql": true, "jdbc": true, "odbc": true, "input": true, "merge": true,
	"executable": true, "sqlite": true, "mongodb": true, "redis": true, "dictionary": true,
	"generaterandom": true, "azureblobstorage": true, "azureblobstoragecluster": true, "gcs": true,
	"iceberg": true, "icebergs3": true, "icebergazure": true, "iceberghdfs": true, "deltalake": true, "hudi": true,
	"view": true, "viewifpermitted": true, "viewexplain": true, "loop": true, "fuzzjson": true, "fuzzquery": true,
	"numbers": true, "numbers_mt": true, "zeros": true, "zeros_mt": true, "values": true, "null": true,
	"joinget": true, "joingetornull": true, "hascolumnintable": true, "modelevaluate": true, "catboostevaluate": true,
	"mergetreeindex": true, "mergetreeparts": true, "mergetreeprojection": true, "primes": true, "arrowflight": true,
	"ytsaurus": true, "paimon": true, "timeseriesdata": true, "timeseriestags": true, "timeseriesmetrics": true,
	"prometheusquery": true, "prometheusqueryrange": true,
}

// inFuncs are the functions ClickHouse makes of "a IN b"; their right
// argument may be a table named by a bare identifier.
var inFuncs = map[string]bool{
	"in": true, "notin": true, "globalin": true, "globalnotin": true, "nullin": true, "notnullin": true,
	"globalnullin": true, "globalnotnullin": true, "inignoreset": true, "notinignoreset": true,
	"globalinignoreset": true, "globalnotinignoreset": true, "nullinignoreset": true, "notnullinignoreset": true,
}

// exprFrom are the functions whose arguments use FROM (or IN) as a word of
// the expression, not before a table: EXTRACT(DAY FROM t),
// TRIM(BOTH ' ' FROM s), SUBSTRING(s FROM 2), POSITION('a' IN s).
var exprFrom = map[string]bool{"extract": true, "trim": true, "substring": true, "substr": true, "overlay": true, "position": true}

// clauseEnd are keywords after which a comma no longer separates tables.
var clauseEnd = map[string]bool{
	"WHERE": true, "PREWHERE": true, "GROUP": true, "ORDER": true, "LIMIT": true, "HAVING": true,
	"UNION": true, "EXCEPT": true, "INTERSECT": true, "WINDOW": true, "QUALIFY": true, "OFFSET": true,
	"SELECT": true, "FETCH": true,
}

// literalWords may appear on the right of IN without naming a table.
var literalWords = map[string]bool{"NULL": true, "TRUE": true, "FALSE": true, "INF": true, "NAN": true}

// frame is one level of parentheses (or the statement itself).
type frame struct {
	// open is the byte position of the '(' that opened the frame.
	open int
	// call is the lower-case function name when the parenthesis opens a
	// call's arguments, else "".
	call string
	// selected is set once SELECT appears at this level.
	selected bool
	// withClause is set from a leading WITH until SELECT.
	withClause bool
	// fromList is set after FROM until a clause keyword: a comma then
	// introduces another table.
	fromList bool
	// arrayJoin is set after ARRAY JOIN: commas separate expressions.
	arrayJoin bool
	// ctes are the names the WITH clause at this level gives subqueries.
	ctes map[string]bool
}

// checker walks one statement.
type checker struct {
	p      Policy
	toks   []token
	frames []*frame
	tables map[string]bool
}

// Check decides whether sql may run for a caller with policy p. It returns
// the tables it reads, or a *Rejection. It never panics, whatever sql is.
func Check(sql string, p Policy) (Result, error) {
	if len(sql) > MaxLength {
		return Result{}, reject(CodeTooLong, MaxLength, "the query is %d bytes long; the limit is %d", len(sql), MaxLength)
	}
	toks, rej := lex(sql)
	if rej != nil {
		return Result{}, rej
	}
	if len(toks) == 0 {
		return Result{}, reject(CodeEmpty, 0, "the query is empty")
	}
	c := &checker{p: p, toks: toks, frames: []*frame{{}}, tables: map[string]bool{}}
	if rej := c.walk(); rej != nil {
		return Result{}, rej
	}
	if rej := c.personal(); rej != nil {
		return Result{}, rej
	}
	res := Result{Tables: make([]string, 0, len(c.tables))}
	for t := range c.tables {
		res.Tables = append(res.Tables, t)
	}
	sort.Strings(res.Tables)
	return res, nil
}

func (c *checker) top() *frame { return c.frames[len(c.frames)-1] }

// at returns token i, or a zero token (kind word, empty text) past the end.
func (c *checker) at(i int) token {
	if i < 0 || i >= len(c.toks) {
		return token{kind: punct, pos: c.end()}
	}
	return c.toks[i]
}

func (c *checker) end() int {
	if len(c.toks) == 0 {
		return 0
	}
	last := c.toks[len(c.toks)-1]
	return last.pos + len(last.text)
}

func (c *checker) walk() *Rejection {
	// One statement: a ';' may only end it.
	for i, t := range c.toks {
		if t.is(";") && i != len(c.toks)-1 {
			return reject(CodeMulti, t.pos, "only one statement is allowed; remove everything after the ';'")
		}
	}
	if c.toks[len(c.toks)-1].is(";") {
		c.toks = c.toks[:len(c.toks)-1]
		if len(c.toks) == 0 {
			return reject(CodeEmpty, 0, "the query is empty")
		}
	}
	first := 0
	for first < len(c.toks) && c.toks[first].is("(") {
		first++
	}
	if kw := c.at(first).upper(); kw != "SELECT" && kw != "WITH" {
		t := c.at(first)
		what := t.text
		if what == "" {
			what = "the end"
		}
		return reject(CodeNotSelect, t.pos, "only SELECT queries (optionally starting with WITH) are allowed, not %q", what)
	}
	for i := 0; i < len(c.toks); {
		next, rej := c.step(i)
		if rej != nil {
			return rej
		}
		i = next
	}
	// An unclosed '(' would leave words such as FROM inside a call frame,
	// where they are read as part of an expression (EXTRACT(x FROM t)).
	if len(c.frames) > 1 {
		return reject(CodeSyntax, c.top().open, "unbalanced '(': it is never closed")
	}
	return nil
}

// step checks token i and returns the index of the next token to check.
func (c *checker) step(i int) (int, *Rejection) {
	t := c.toks[i]
	f := c.top()
	if t.kind == punct {
		switch t.text {
		case "(":
			nf := &frame{open: t.pos}
			if prev := c.at(i - 1); i > 0 && prev.ident() {
				nf.call = strings.ToLower(prev.name)
			}
			c.frames = append(c.frames, nf)
			if inFuncs[nf.call] && !c.exprWord(f) {
				if rej := c.inGroup(i); rej != nil {
					return 0, rej
				}
			}
		case ")":
			if len(c.frames) == 1 {
				return 0, reject(CodeSyntax, t.pos, "unbalanced ')'")
			}
			c.frames = c.frames[:len(c.frames)-1]
		case ",":
			if f.withClause {
				if rej := c.cte(i + 1); rej != nil {
					return 0, rej
				}
			}
			if f.fromList && !f.arrayJoin {
				return c.tableRef(i+1, "a comma in FROM")
			}
		}
		return i + 1, nil
	}
	if !t.ident() {
		return i + 1, nil
	}
	next := c.at(i + 1)
	// system.x and information_schema.x, quoted or not, anywhere.
	if low := strings.ToLower(t.name); (low == "system" || low == "information_schema") && next.is(".") {
		return 0, reject(CodeSystem, t.pos, "%s tables are not available; query the feeds listed by GET /api/v1/feeds", t.name)
	}
	// A call: check the function's name.
	if next.is("(") {
		if low := strings.ToLower(t.name); deniedFuncs[low] || strings.HasPrefix(low, "dict") {
			return 0, reject(CodeFunction, t.pos, "function %s is not allowed: it reads tables, files or servers by name", t.name)
		}
	}
	if t.kind != word {
		return i + 1, nil
	}
	kw := t.upper()
	if forbidden[kw] && !(callable[kw] && next.is("(")) {
		return 0, reject(CodeKeyword, t.pos, "%s is not allowed: only read-only SELECT queries run here", kw)
	}
	if clauseEnd[kw] {
		f.fromList, f.arrayJoin = false, false
	}
	switch kw {
	case "SELECT":
		f.selected, f.withClause = true, false
	case "UNION", "EXCEPT", "INTERSECT":
		// A WITH applies to its own SELECT only; the next one starts afresh.
		f.ctes = nil
	case "WITH":
		switch next.upper() {
		case "TOTALS", "ROLLUP", "CUBE", "FILL", "TIES":
		default:
			f.withClause = true
			if rej := c.cte(i + 1); rej != nil {
				return 0, rej
			}
		}
	case "FROM":
		if c.exprWord(f) && !c.at(i-1).is("(") {
			return i + 1, c.notHidden(i + 1)
		}
		f.fromList, f.arrayJoin = true, false
		return c.tableRef(i+1, "FROM")
	case "JOIN":
		prev, before := c.at(i-1), c.at(i-2)
		if i >= 1 && prev.upper() == "ARRAY" && !(i >= 2 && before.upper() == "AS") {
			f.arrayJoin = true
			return i + 1, c.notHidden(i + 1)
		}
		f.fromList, f.arrayJoin = true, false
		return c.tableRef(i+1, "JOIN")
	case "IN":
		if c.exprWord(f) && !c.at(i-1).is("(") {
			return i + 1, c.notHidden(i + 1)
		}
		if next.is("(") {
			return i + 1, nil // the group is checked when '(' opens it
		}
		if next.ident() {
			j, name, db, rej := c.name(i + 1)
			if rej != nil {
				return 0, rej
			}
			if c.at(j).is("(") {
				return i + 1, nil // IN tuple(...): a call, checked as one
			}
			if rej := c.table(c.at(i+1), name, db, true); rej != nil {
				return 0, rej
			}
			return j, nil
		}
	}
	return i + 1, nil
}

// notHidden refuses a name at token i, in any case, of a table the caller
// may not read where an expression word (EXTRACT(x FROM name)) puts it: it
// is a column there, but nothing that looks like reading a hidden table
// passes, by its table name alone or qualified with its database.
func (c *checker) notHidden(i int) *Rejection {
	t := c.at(i)
	if !t.ident() {
		return nil
	}
	name := t.name
	if u := c.at(i + 2); c.at(i+1).is(".") && u.ident() {
		name += "." + u.name
	}
	for hidden := range c.p.Hidden {
		if strings.EqualFold(hidden, t.name) || strings.EqualFold(hidden, name) || strings.EqualFold(c.bare(hidden), t.name) {
			return reject(CodeTable, t.pos, "there is no table %q that you may read", name)
		}
	}
	return nil
}

// bare returns a table name of the policy without its Restricted database.
func (c *checker) bare(name string) string {
	if c.p.Restricted != "" {
		return strings.TrimPrefix(name, c.p.Restricted+".")
	}
	return name
}

// exprWord reports whether FROM or IN at frame f is a word of an
// expression (EXTRACT(DAY FROM t)) rather than before a table.
func (c *checker) exprWord(f *frame) bool { return exprFrom[f.call] && !f.selected && !f.withClause }

// name reads a possibly qualified name (table or db.table) starting at i and
// returns the index after it.
func (c *checker) name(i int) (next int, name, db string, rej *Rejection) {
	t := c.at(i)
	if !t.ident() {
		return 0, "", "", reject(CodeTableSyntax, t.pos, "expected a table name")
	}
	if !c.at(i + 1).is(".") {
		return i + 1, t.name, "", nil
	}
	u := c.at(i + 2)
	if !u.ident() {
		return 0, "", "", reject(CodeTableSyntax, u.pos, "expected a table name after %q.", t.name)
	}
	if c.at(i + 3).is(".") {
		return 0, "", "", reject(CodeTableSyntax, c.at(i+3).pos, "a table is named table or database.table, not with more dots")
	}
	return i + 3, u.name, t.name, nil
}

// tableRef checks what follows FROM, JOIN or a comma in FROM at index i: a
// subquery in parentheses or a readable table. It returns the index to go
// on from.
func (c *checker) tableRef(i int, after string) (int, *Rejection) {
	t := c.at(i)
	if t.is("(") {
		j := i
		for c.at(j).is("(") {
			j++
		}
		if kw := c.at(j).upper(); kw != "SELECT" && kw != "WITH" {
			return 0, reject(CodeTableSyntax, c.at(j).pos, "expected a subquery (SELECT ...) in the parentheses after %s", after)
		}
		return i, nil
	}
	if !t.ident() {
		what := t.text
		if what == "" {
			what = "the end"
		}
		return 0, reject(CodeTableSyntax, t.pos, "expected a table or a subquery after %s, not %q", after, what)
	}
	j, name, db, rej := c.name(i)
	if rej != nil {
		return 0, rej
	}
	if c.at(j).is("(") {
		return 0, reject(CodeTableFunc, t.pos, "table function %s() is not allowed: query the feeds' tables", name)
	}
	if rej := c.table(t, name, db, false); rej != nil {
		return 0, rej
	}
	return j, nil
}

// table checks that the table db.name (db may be empty) is readable.
func (c *checker) table(at token, name, db string, inOperand bool) *Rejection {
	key := name
	switch {
	case db == "":
		if c.isCTE(name) {
			return nil
		}
	case strings.EqualFold(db, "system") || strings.EqualFold(db, "information_schema"):
		return reject(CodeSystem, at.pos, "%s tables are not available", db)
	case db == c.p.Database:
	case c.p.Restricted != "" && db == c.p.Restricted:
		key = db + "." + name
	case c.p.Restricted != "":
		return reject(CodeDatabase, at.pos, "database %q is not available; write an open table's name alone (or as %s.table) and a restricted one as %s.table",
			db, c.p.Database, c.p.Restricted)
	default:
		return reject(CodeDatabase, at.pos, "database %q is not available; write the table's name alone or as %s.table", db, c.p.Database)
	}
	if !c.p.Tables[key] {
		if qualified := c.p.Restricted + "." + name; db == "" && c.p.Restricted != "" && c.p.Tables[qualified] {
			return reject(CodeTable, at.pos, "%q is a restricted table: write it as %s", name, qualified)
		}
		code, what := CodeTable, "there is no table %q that you may read"
		if inOperand {
			code, what = CodeInOperand, "the right side of IN must be a subquery, constants or a table you may read; %q is none of these"
		}
		shown := name
		if db != "" {
			shown = db + "." + name
		}
		return reject(code, at.pos, what+"; GET /api/v1/me lists the tables you may read", shown)
	}
	c.tables[key] = true
	return nil
}

// hiddenBare reports whether name is the table part of a hidden
// restricted table.
func (c *checker) hiddenBare(name string) bool {
	if c.p.Restricted == "" {
		return false
	}
	return c.p.Hidden[c.p.Restricted+"."+name]
}

func (c *checker) isCTE(name string) bool {
	for k := len(c.frames) - 1; k >= 0; k-- {
		if c.frames[k].ctes[name] {
			return true
		}
	}
	return false
}

// cte records "name AS (" at index i in the current WITH clause.
func (c *checker) cte(i int) *Rejection {
	t := c.at(i)
	if !t.ident() || c.at(i+1).upper() != "AS" || !c.at(i+2).is("(") {
		return nil
	}
	if c.p.Hidden[t.name] || c.hiddenBare(t.name) {
		return reject(CodeCTEName, t.pos, "the WITH name %q is the name of a table you may not read; choose another name", t.name)
	}
	f := c.top()
	if f.ctes == nil {
		f.ctes = map[string]bool{}
	}
	f.ctes[t.name] = true
	return nil
}

// inGroup checks the parenthesised right side of IN (or the arguments of an
// in-function) that opens at index open: unless it is a subquery, every bare
// name in it must be a readable table, because ClickHouse reads
// "x IN (t)" and "in(x, t)" as the table t.
func (c *checker) inGroup(open int) *Rejection {
	j := open + 1
	for c.at(j).is("(") {
		j++
	}
	if kw := c.at(j).upper(); kw == "SELECT" || kw == "WITH" {
		return nil
	}
	depth := 0
	for k := open; k < len(c.toks); k++ {
		t := c.toks[k]
		switch {
		case t.is("("):
			depth++
			// A nested subquery is walked on its own; skip it here.
			if kw := c.at(k + 1).upper(); kw == "SELECT" || kw == "WITH" {
				d := 1
				for k++; k < len(c.toks) && d > 0; k++ {
					if c.toks[k].is("(") {
						d++
					} else if c.toks[k].is(")") {
						d--
					}
				}
				k--
				depth--
			}
		case t.is(")"):
			depth--
			if depth == 0 {
				return nil
			}
		case t.ident():
			if c.at(k+1).is("(") || (t.kind == word && literalWords[t.upper()]) || c.at(k-1).is(".") {
				continue
			}
			j, name, db, rej := c.name(k)
			if rej != nil {
				return rej
			}
			if rej := c.table(t, name, db, true); rej != nil {
				return rej
			}
			k = j - 1
		}
	}
	return nil
}
