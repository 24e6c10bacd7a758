package bus

import (
	"github.com/segmentio/kafka-go"
)

// fetchMemory is the memory a partition reader's fetches reuse: buffers
// that snappy batches inflate into, slabs of headers and the slice of a
// response's messages. What it hands out is noted in used until takeUsed;
// recycle gives it back once no message points into it.
type fetchMemory struct {
	// ratio is the last record batch's inflated-to-compressed size.
	ratio       float64
	free        [][]byte
	freeHeaders [][]kafka.Header
	used        usedMemory
	// messages is the last response's message slice; messages are handed
	// out by value, so it is free once they all are.
	messages []Message
	// limit bounds a record batch once inflated; maxInflated when 0.
	limit int
	// keep bounds the bytes of free buffers kept; maxFreeBytes when 0.
	keep int
}

func (f *fetchMemory) batchLimit() int {
	if f.limit > 0 {
		return f.limit
	}
	return maxInflated
}

// usedMemory is memory fetched messages point into.
type usedMemory struct {
	bufs    [][]byte
	headers [][]kafka.Header
}

func (u *usedMemory) add(v usedMemory) {
	u.bufs = append(u.bufs, v.bufs...)
	u.headers = append(u.headers, v.headers...)
}

// maxFreeBytes bounds the buffers kept for reuse: enough for the inflated
// responses of a micro-batch or two. maxFreeHeaders bounds header slabs.
const (
	maxFreeBytes   = 16 << 20
	maxFreeHeaders = 64
)

// takeFree pops slices off free until one has room for n and returns it
// (nil when none has); the smaller ones popped on the way are dropped.
func takeFree[T any](free *[][]T, n int) []T {
	for len(*free) > 0 {
		last := (*free)[len(*free)-1]
		(*free)[len(*free)-1] = nil
		*free = (*free)[:len(*free)-1]
		if cap(last) >= n {
			return last
		}
	}
	return nil
}

// buffer returns n bytes, recycled when one given back is large enough
// (their content is whatever it was).
func (f *fetchMemory) buffer(n int) []byte {
	b := takeFree(&f.free, n)
	if b == nil {
		b = make([]byte, n)
	}
	b = b[:n]
	f.used.bufs = append(f.used.bufs, b)
	return b
}

// headerSlab returns an empty slice of headers with room for n.
func (f *fetchMemory) headerSlab(n int) []kafka.Header {
	h := takeFree(&f.freeHeaders, n)
	if h == nil {
		h = make([]kafka.Header, 0, n)
	}
	h = h[:0]
	f.used.headers = append(f.used.headers, h)
	return h
}

// messageSlice returns an empty slice of messages with room for n, the
// last response's when that is large enough.
func (f *fetchMemory) messageSlice(n int) []Message {
	// A slice far larger than needed (a burst gone quiet) is let go.
	if cap(f.messages) < n || cap(f.messages) > 4*n+1024 {
		f.messages = make([]Message, 0, n)
	}
	return f.messages[:0]
}

// takeUsed returns what was handed out since the last call.
func (f *fetchMemory) takeUsed() usedMemory {
	used := f.used
	f.used = usedMemory{}
	return used
}

// recycle makes u available again: nothing points into it any more.
func (f *fetchMemory) recycle(u usedMemory) {
	keep := f.keep
	if keep <= 0 {
		keep = maxFreeBytes
	}
	// What is kept shrinks with keep (a claim gone quiet keeps little).
	kept, n := 0, 0
	for _, b := range f.free {
		if kept+cap(b) > keep {
			break
		}
		kept += cap(b)
		n++
	}
	clear(f.free[n:])
	f.free = f.free[:n]
	for _, b := range u.bufs {
		if kept += cap(b); kept > keep {
			break
		}
		f.free = append(f.free, b)
	}
	f.freeHeaders = append(f.freeHeaders, u.headers[:min(len(u.headers), max(maxFreeHeaders-len(f.freeHeaders), 0))]...)
}
