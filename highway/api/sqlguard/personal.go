package sqlguard

import (
	"sort"
	"strings"
)

// CodePersonal is the rejection of a query that names a personal column
// of a table it reads, or reads all columns (*) of such a table.
const CodePersonal = "personal_column"

// personal refuses a statement that could return a personal column of a
// table it reads (Policy.Personal): one that names the column anywhere,
// as a bare or quoted identifier (whatever it qualifies or aliases), or
// that selects all columns with * or t.*, or matches columns with
// COLUMNS(...), since those would carry it too. A column is only read by
// naming it or through a star, so this holds through aliases, subqueries,
// tuples, arrays and JSON functions. count(*) reads no column and is
// allowed. A name that is personal in one table read is refused in the
// whole statement, even where it means a column of another table: the
// rule errs on the side of the person.
func (c *checker) personal() *Rejection {
	cols := map[string]string{} // lower-case column → the table it is personal in
	for t := range c.tables {
		for _, col := range c.p.Personal[t] {
			cols[strings.ToLower(col)] = t
		}
	}
	if len(cols) == 0 {
		return nil
	}
	names := make([]string, 0, len(cols))
	for col := range cols {
		names = append(names, col)
	}
	sort.Strings(names)
	for i, t := range c.toks {
		switch {
		case t.ident() && cols[strings.ToLower(t.name)] != "":
			return reject(CodePersonal, t.pos, "%s is a personal field of %s: only the department that owns the feed may read it; leave it out of the query",
				t.name, cols[strings.ToLower(t.name)])
		case t.ident() && strings.EqualFold(t.name, "columns") && c.at(i+1).is("("):
			return reject(CodePersonal, t.pos, "COLUMNS(...) may match the personal fields (%s) of a table the query reads; name the columns you need",
				strings.Join(names, ", "))
		case t.is("*") && c.isStar(i):
			return reject(CodePersonal, t.pos, "* would include the personal fields (%s) of a table the query reads; name the columns you need",
				strings.Join(names, ", "))
		}
	}
	return nil
}

// isStar reports whether the '*' at i stands for all columns (SELECT *,
// t.*, tuple(*)) rather than multiplying, and is not count(*).
func (c *checker) isStar(i int) bool {
	prev := c.at(i - 1)
	if i > 0 && (prev.ident() && !isKeyword(prev) || prev.kind == number || prev.kind == str || prev.is(")") || prev.is("]")) {
		return false // an operand before it: a multiplication
	}
	if prev.is("(") && c.at(i+1).is(")") && strings.EqualFold(c.at(i-2).name, "count") {
		return false
	}
	return true
}

// isKeyword reports whether a word is a keyword that may come before a
// star: SELECT *, SELECT DISTINCT *, SELECT ALL *.
func isKeyword(t token) bool {
	switch t.upper() {
	case "SELECT", "DISTINCT", "ALL":
		return t.kind == word
	}
	return false
}
