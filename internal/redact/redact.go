// Package redact hides secret values in output streams: every occurrence
// of a value becomes a marker naming its secret, [REDACTED:NAME], before
// the output is kept or shown to anyone. It is pure logic, std only.
//
// # What is matched
//
// Each secret is looked for as its raw bytes and in three encodings a
// program commonly prints a value in on its own: standard and URL-safe
// base64 (without padding, so `base64` of the value is caught with or
// without its trailing '='), and lower-case hex. Occurrences of
// different secrets that overlap are hidden together: every byte that
// belongs to any occurrence is hidden, and one marker stands for each run
// of overlapping occurrences, named after the occurrence that starts it
// (the longest, if several start at the same byte). Occurrences that only
// touch get a marker each.
//
// # Streams
//
// A Filter works on a stream that arrives in chunks of any size: a value
// split across two chunks is still found. To do so it holds back the
// stream's last bytes while they could be the start of a value — at most
// the longest pattern's length less one, and only when those bytes are in
// fact a prefix of some pattern — until more output or the end of the
// stream decides them. Flush releases them at the end.
//
// # What it cannot do
//
// Redaction guards against accidents — a token echoed in a log line, a
// config dumped with its credentials — not against a process that means
// to disclose a value it holds: a value that is reversed, split, encrypted,
// encoded with anything else (base64 of "user:" + value in a Basic
// Authorization header, say, or base64 that does not start on the value's
// first byte), or printed a character at a time between other output, is
// not recognised. Values shorter than MinLen are refused by the gateway
// when they are set: a short value matches ordinary output by chance, and
// redacting every "1234" would hide output without protecting anything.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"slices"
)

// MinLen is the shortest value worth redacting (see the package doc).
const MinLen = 8

// Secret is a value to hide and the name its marker shows.
type Secret struct {
	Name  string
	Value []byte
}

// Marker is what replaces an occurrence of the secret name.
func Marker(name string) string { return "[REDACTED:" + name + "]" }

// Set is a compiled set of secrets. It is immutable and safe for
// concurrent use; each stream needs its own Filter.
type Set struct {
	pats   []pattern
	maxLen int
	first  [256]bool // bytes some pattern starts with
}

type pattern struct {
	b      []byte
	marker []byte
}

// New compiles secrets into a Set. Empty values are ignored; an encoding
// that is identical to another pattern of the same secret is kept once.
func New(secrets []Secret) *Set {
	s := &Set{}
	for _, sec := range secrets {
		if len(sec.Value) == 0 {
			continue
		}
		m := []byte(Marker(sec.Name))
		forms := [][]byte{
			sec.Value,
			bytes.TrimRight([]byte(base64.StdEncoding.EncodeToString(sec.Value)), "="),
			bytes.TrimRight([]byte(base64.URLEncoding.EncodeToString(sec.Value)), "="),
			[]byte(hex.EncodeToString(sec.Value)),
		}
		for i, f := range forms {
			if slices.ContainsFunc(forms[:i], func(g []byte) bool { return bytes.Equal(f, g) }) {
				continue
			}
			s.pats = append(s.pats, pattern{b: f, marker: m})
			s.maxLen = max(s.maxLen, len(f))
			s.first[f[0]] = true
		}
	}
	return s
}

// Empty reports whether the set has nothing to hide.
func (s *Set) Empty() bool { return s == nil || len(s.pats) == 0 }

// Redact returns b with every occurrence hidden.
func (s *Set) Redact(b []byte) []byte {
	f := s.Filter()
	out := f.Write(b)
	return append(out, f.Flush()...)
}

// Filter returns a filter for one stream.
func (s *Set) Filter() *Filter { return &Filter{set: s} }

// Filter redacts one stream. It is not safe for concurrent use.
type Filter struct {
	set *Set
	buf []byte // the stream's bytes not yet released
	// covered is how many of buf's first bytes belong to a run whose
	// marker has already been released.
	covered int
}

// Write takes the stream's next bytes and returns what can be released
// now, redacted. The result is a new slice; p is not retained.
func (f *Filter) Write(p []byte) []byte {
	if f.set.Empty() {
		return append([]byte(nil), p...)
	}
	f.buf = append(f.buf, p...)
	return f.release(false)
}

// Flush returns what Write held back, redacted: call it at the end of the
// stream. The filter is then empty and may be used for another stream.
func (f *Filter) Flush() []byte {
	if f.set.Empty() {
		return nil
	}
	out := f.release(true)
	f.buf, f.covered = nil, 0
	return out
}

type match struct {
	start, end int
	marker     []byte
}

// release redacts and returns the decided part of buf: everything before
// the first byte from which the rest of buf could still grow into a
// pattern (everything, at the end of the stream).
func (f *Filter) release(final bool) []byte {
	data := f.buf
	hold := len(data)
	if !final {
		hold = f.holdFrom(data)
	}
	// Every occurrence starting before hold is complete in data: one that
	// were not would make its start a place to hold from.
	var ms []match
	for i := range f.set.pats {
		p := &f.set.pats[i]
		for from := 0; from < hold; {
			j := bytes.Index(data[from:], p.b)
			if j < 0 || from+j >= hold {
				break
			}
			s := from + j
			ms = append(ms, match{s, s + len(p.b), p.marker})
			from = s + 1
		}
	}
	slices.SortFunc(ms, func(a, b match) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end // the longest first
	})
	out := make([]byte, 0, hold)
	runEnd := f.covered // data[:runEnd] is hidden, its marker already out
	for _, m := range ms {
		if m.start < runEnd {
			runEnd = max(runEnd, m.end)
			continue
		}
		out = append(out, data[runEnd:m.start]...)
		out = append(out, m.marker...)
		runEnd = m.end
	}
	cut := hold
	if runEnd >= hold {
		// A run reaches past what is decided: hide up to there and keep
		// hiding what it still covers.
		cut = max(hold, 0)
		f.covered = runEnd - cut
	} else {
		out = append(out, data[runEnd:hold]...)
		f.covered = 0
	}
	f.buf = append(f.buf[:0:0], data[cut:]...)
	return out
}

// holdFrom returns the first index i at or after which data[i:] is a
// proper prefix of some pattern, or len(data).
func (f *Filter) holdFrom(data []byte) int {
	n := len(data)
	for i := max(0, n-f.set.maxLen+1); i < n; i++ {
		if !f.set.first[data[i]] {
			continue
		}
		tail := data[i:]
		for _, p := range f.set.pats {
			if len(p.b) > len(tail) && bytes.HasPrefix(p.b, tail) {
				return i
			}
		}
	}
	return n
}
