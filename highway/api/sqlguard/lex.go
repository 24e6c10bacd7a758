package sqlguard

import "strings"

// kind is the kind of a token.
type kind int

const (
	// word is an unquoted identifier or keyword.
	word kind = iota
	// quoted is an identifier in "double quotes" or `backticks`.
	quoted
	// str is a 'string literal'.
	str
	// number is a numeric literal.
	number
	// punct is an operator or punctuation.
	punct
)

// token is one lexical unit of a statement. Comments and whitespace are
// dropped; they separate tokens exactly as they do for ClickHouse.
type token struct {
	kind kind
	// text is the token as written (for punct, the operator).
	text string
	// name is, for words and quoted identifiers, the identifier's value:
	// the word as written, or the quoted content with doubled quotes undone.
	name string
	// pos is the byte offset of the token in the statement.
	pos int
}

// upper returns the keyword a word spells, in upper case; "" for other tokens.
func (t token) upper() string {
	if t.kind != word {
		return ""
	}
	return strings.ToUpper(t.text)
}

// ident reports whether the token names something (a word or a quoted
// identifier).
func (t token) ident() bool { return t.kind == word || t.kind == quoted }

// is reports whether the token is the punctuation p.
func (t token) is(p string) bool { return t.kind == punct && t.text == p }

// operators are the multi-byte operators, longest first.
var operators = []string{"<=>", "->", "::", "||", "<=", ">=", "!=", "<>", "=="}

// singles are the one-byte operators and punctuation ClickHouse's lexer knows
// and this guard lets through. Others ('{', '}', '$', '#', '@', '\\', '&',
// '^', '~') are refused: they are query parameters, heredocs or comments in
// some ClickHouse versions and not in others.
const singles = "()[],;.+-*/%=<>!?:|"

// lex splits sql into tokens the way ClickHouse's lexer does, refusing every
// construct that ClickHouse versions read differently (nested comments, '#'
// comments, heredocs, query parameters) and every unterminated string,
// identifier or comment, so that what this guard checks is what ClickHouse
// runs.
func lex(sql string) ([]token, *Rejection) {
	var toks []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == 0:
			return nil, reject(CodeSyntax, i, "a NUL byte is not allowed in a query")
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			// A line comment ends at '\n' only, as in ClickHouse.
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 1
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, reject(CodeSyntax, i, "unterminated /* comment")
			}
			body := sql[i+2 : i+2+end]
			if j := strings.Index(body, "/*"); j >= 0 {
				return nil, reject(CodeSyntax, i+2+j, "nested /* comments are not allowed: ClickHouse versions read them differently")
			}
			i += 2 + end + 2
		case c == '\'' || c == '"' || c == '`':
			tok, next, rej := quotedToken(sql, i)
			if rej != nil {
				return nil, rej
			}
			toks = append(toks, tok)
			i = next
		case c >= '0' && c <= '9':
			end := numberEnd(sql, i)
			if end < len(sql) && isWordByte(sql[end]) {
				return nil, reject(CodeSyntax, i, "malformed number %q: put a space between a number and a word", sql[i:min(end+1, len(sql))])
			}
			toks = append(toks, token{kind: number, text: sql[i:end], pos: i})
			i = end
		case isWordStart(c):
			start := i
			for i < len(sql) && isWordByte(sql[i]) {
				i++
			}
			w := sql[start:i]
			toks = append(toks, token{kind: word, text: w, name: w, pos: start})
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(sql[i:], o) {
					op = o
					break
				}
			}
			if op == "" && strings.IndexByte(singles, c) >= 0 {
				op = sql[i : i+1]
			}
			if op == "" {
				return nil, reject(CodeSyntax, i, "character %q is not allowed outside strings here (query parameters, heredocs and '#' comments are not supported)", c)
			}
			toks = append(toks, token{kind: punct, text: op, pos: i})
			i += len(op)
		}
	}
	return toks, nil
}

// quotedToken reads a string literal or quoted identifier starting at sql[i].
// A doubled quote stands for the quote itself. Backslash escapes are read in
// strings; in identifiers they are refused, since ClickHouse versions decode
// them differently and a name must mean one table.
func quotedToken(sql string, i int) (token, int, *Rejection) {
	q := sql[i]
	start := i
	var b strings.Builder
	i++
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == '\\':
			if q != '\'' {
				return token{}, 0, reject(CodeSyntax, i, "backslash escapes are not allowed in quoted identifiers")
			}
			if i+1 >= len(sql) {
				i++
				continue
			}
			b.WriteByte(sql[i+1])
			i += 2
		case c == q && i+1 < len(sql) && sql[i+1] == q:
			b.WriteByte(q)
			i += 2
		case c == q:
			k := quoted
			if q == '\'' {
				k = str
			}
			return token{kind: k, text: sql[start : i+1], name: b.String(), pos: start}, i + 1, nil
		default:
			b.WriteByte(c)
			i++
		}
	}
	what := "string"
	if q != '\'' {
		what = "quoted identifier"
	}
	return token{}, 0, reject(CodeSyntax, start, "unterminated %s", what)
}

// numberEnd returns the end of the number literal that starts at sql[i]:
// decimal digits with an optional fraction and exponent, 0x hex (with an
// optional binary exponent) or 0b binary. Underscores between digits are
// read as current ClickHouse does.
func numberEnd(sql string, i int) int {
	digits := func(i int, ok func(byte) bool) int {
		for i < len(sql) && (ok(sql[i]) || sql[i] == '_') {
			i++
		}
		return i
	}
	dec := func(c byte) bool { return c >= '0' && c <= '9' }
	hex := func(c byte) bool { return dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
	exponent := func(i int, marks string) int {
		if i < len(sql) && strings.IndexByte(marks, sql[i]) >= 0 {
			j := i + 1
			if j < len(sql) && (sql[j] == '+' || sql[j] == '-') {
				j++
			}
			if j < len(sql) && dec(sql[j]) {
				return digits(j, dec)
			}
		}
		return i
	}
	if sql[i] == '0' && i+2 < len(sql) && (sql[i+1] == 'x' || sql[i+1] == 'X') && hex(sql[i+2]) {
		j := digits(i+2, hex)
		if j+1 < len(sql) && sql[j] == '.' && hex(sql[j+1]) {
			j = digits(j+1, hex)
		}
		return exponent(j, "pP")
	}
	if sql[i] == '0' && i+2 < len(sql) && (sql[i+1] == 'b' || sql[i+1] == 'B') && (sql[i+2] == '0' || sql[i+2] == '1') {
		return digits(i+2, func(c byte) bool { return c == '0' || c == '1' })
	}
	j := digits(i, dec)
	if j+1 < len(sql) && sql[j] == '.' && dec(sql[j+1]) {
		j = digits(j+1, dec)
	}
	return exponent(j, "eE")
}

func isWordStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isWordByte(c byte) bool { return isWordStart(c) || (c >= '0' && c <= '9') }
