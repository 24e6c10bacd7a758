package record

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// checkTimeLikeTimeParse fails t when parseTimeMillis disagrees with
// time.Parse(time.RFC3339Nano) on s.
func checkTimeLikeTimeParse(t *testing.T, s string) {
	t.Helper()
	ms, ok := parseTimeMillis([]byte(s))
	want, err := time.Parse(time.RFC3339Nano, s)
	if ok != (err == nil) {
		t.Fatalf("parseTimeMillis(%q) ok=%v, time.Parse error %v", s, ok, err)
	}
	if ok && ms != want.UnixMilli() {
		t.Fatalf("parseTimeMillis(%q) = %d, time.Parse gives %d (%s)", s, ms, want.UnixMilli(), want.UTC())
	}
}

func TestParseTimeMillisAgreesWithTimeParse(t *testing.T) {
	for _, s := range []string{
		"2026-11-26T08:30:00+08:00", "2026-11-26T08:30:00Z", "2026-11-26T00:00:00-09:30",
		"1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59+23:59", "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "2100-02-29T00:00:00Z",
		"2000-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-11-26T24:00:00Z", "2026-11-26T23:60:00Z", "2026-11-26T23:59:60Z", "2026-11-26T08:30:00+24:00",
		"2026-11-26T08:30:00+08:60", "2026-11-26t08:30:00Z", "2026-11-26T08:30:00z", "2026-11-26T08:30:00.5Z",
		"2026-11-26T08:30:00.123456789+08:00", "2026-11-26 08:30:00Z", "2026-11-26T08:30:00", "2026-11-26T08:30:00+0800",
		"2026-11-26T08:30:00+08:0a", "20a6-11-26T08:30:00Z", "+026-11-26T08:30:00Z", "2026-1-026T08:30:00Z",
		"2026-11-26T08:30:00-00:00", "", "Z",
	} {
		checkTimeLikeTimeParse(t, s)
	}
	rng := rand.New(rand.NewPCG(3339, 1))
	for range 100_000 {
		at := time.Unix(rng.Int64N(400*365*86400)-200*365*86400, 0)
		zone := time.FixedZone("", (rng.IntN(48)-24)*1800)
		checkTimeLikeTimeParse(t, at.In(zone).Format(time.RFC3339))
	}
}

// FuzzParseTimeMillis: the hand-written reader of RFC 3339 times must agree
// with time.Parse on every input.
func FuzzParseTimeMillis(f *testing.F) {
	for _, s := range []string{"2026-11-26T08:30:00+08:00", "2026-11-26T08:30:00Z", "0000-02-29T00:00:00-23:59", "2026-11-26T08:30:00.5Z"} {
		f.Add(s)
	}
	f.Fuzz(checkTimeLikeTimeParse)
}

func TestPlainASCII8(t *testing.T) {
	for b := range 256 {
		want := stringClass[b] == 0
		for pos := range 8 {
			word := []byte("abcdefgh")
			word[pos] = byte(b)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(word[i])
			}
			if got := plainASCII8(x); got != want {
				t.Fatalf("plainASCII8(%q) = %v, want %v (byte %#x at %d)", word, got, want, b, pos)
			}
		}
	}
}

// checkNumberLikeStrconv fails t when parseFloat or parseInt disagree with
// strconv (and the decoder's rule for whole numbers) on s.
func checkNumberLikeStrconv(t *testing.T, s string) {
	t.Helper()
	// The parts gathered while scanning, when the scanner takes s whole.
	var parts numberParts
	p := scanner{data: []byte(s)}
	if num, ok := p.number(&parts); ok && len(num) == len(s) {
		if f, ok := parts.float(); ok {
			want, err := strconv.ParseFloat(s, 64)
			if err != nil || math.Float64bits(f) != math.Float64bits(want) {
				t.Fatalf("numberParts(%q).float() = %v; strconv: %v, %v", s, f, want, err)
			}
		}
		if i, ok := parts.int(); ok {
			want, err := strconv.ParseInt(s, 10, 64)
			if err != nil || i != want {
				t.Fatalf("numberParts(%q).int() = %d; strconv: %d, %v", s, i, want, err)
			}
		}
	}
	f, ok := parseFloat([]byte(s))
	want, err := strconv.ParseFloat(s, 64)
	if ok != (err == nil) || (ok && math.Float64bits(f) != math.Float64bits(want)) {
		t.Fatalf("parseFloat(%q) = %v, %v; strconv: %v, %v", s, f, ok, want, err)
	}
	i, ok := parseInt([]byte(s))
	wantInt, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Whole values written with a fraction or exponent, within ±2^53.
		wantOK := err2nil(strconv.ParseFloat(s, 64)) && want == math.Trunc(want) && math.Abs(want) <= 1<<53
		if ok != wantOK || (ok && i != int64(want)) {
			t.Fatalf("parseInt(%q) = %d, %v; want %v, %v", s, i, ok, int64(want), wantOK)
		}
		return
	}
	if !ok || i != wantInt {
		t.Fatalf("parseInt(%q) = %d, %v; strconv: %d", s, i, ok, wantInt)
	}
}

func err2nil(_ float64, err error) bool { return err == nil }

func TestNumbersAgreeWithStrconv(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "1", "-1", "0.1", "0.3", "123456789012345", "1234567890123456", "999999999999999.9",
		"0.000000000000001", "0.0000000000000001", "9007199254740993", "-9223372036854775808", "9223372036854775807",
		"9223372036854775808", "1e3", "1.5e-3", "1E400", "2.0", "-2.50", "68.2", "7.5", "1.0e15", "123456789012345678",
		"1234567890123456789", "-123456789012345678", "",
	} {
		checkNumberLikeStrconv(t, s)
	}
	rng := rand.New(rand.NewPCG(64, 2))
	for range 200_000 {
		s := strconv.FormatFloat((rng.Float64()-0.5)*math.Pow(10, float64(rng.IntN(30)-10)), 'f', rng.IntN(12), 64)
		checkNumberLikeStrconv(t, s)
		checkNumberLikeStrconv(t, strconv.FormatInt(rng.Int64()>>rng.IntN(63), 10))
	}
}

// FuzzNumbers: the decoder's number readers agree with strconv on every
// input that follows JSON's number grammar.
func FuzzNumbers(f *testing.F) {
	for _, s := range []string{"68.2", "-0.5", "123456789012345", "1e3", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := scanner{data: []byte(s)}
		var parts numberParts
		if num, ok := p.number(&parts); !ok || len(num) != len(s) {
			return // not a JSON number: the decoder refuses it before converting
		}
		checkNumberLikeStrconv(t, s)
	})
}
