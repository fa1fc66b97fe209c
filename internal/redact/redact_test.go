package redact_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/redact"
)

func secrets(kv ...string) []redact.Secret {
	var out []redact.Secret
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, redact.Secret{Name: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

func TestRedact(t *testing.T) {
	tok := "ghp_s3cr3tV4lue"
	b64 := base64.StdEncoding.EncodeToString([]byte(tok))
	for _, tc := range []struct {
		name    string
		secrets []redact.Secret
		in      string
		want    string
	}{
		{"nothing to hide", nil, "hello " + tok, "hello " + tok},
		{"no occurrence", secrets("T", tok), "hello world\n", "hello world\n"},
		{"one", secrets("T", tok), "token=" + tok + "\n", "token=[REDACTED:T]\n"},
		{"the whole stream", secrets("T", tok), tok, "[REDACTED:T]"},
		{"twice, apart", secrets("T", tok), tok + " and " + tok, "[REDACTED:T] and [REDACTED:T]"},
		{"adjacent occurrences get a marker each", secrets("T", tok), tok + tok, "[REDACTED:T][REDACTED:T]"},
		{"base64 with padding", secrets("T", tok), "b64=" + b64 + "\n", "b64=[REDACTED:T]" + strings.Repeat("=", strings.Count(b64, "=")) + "\n"},
		{"url-safe base64", secrets("T", "\xfb\xff\xfe-key-bytes"), base64.RawURLEncoding.EncodeToString([]byte("\xfb\xff\xfe-key-bytes")), "[REDACTED:T]"},
		{"hex", secrets("T", tok), hex.EncodeToString([]byte(tok)), "[REDACTED:T]"},
		{"a prefix of the value is left alone", secrets("T", tok), tok[:len(tok)-1] + "!", tok[:len(tok)-1] + "!"},
		{"overlapping secrets are hidden together",
			secrets("A", "abcdefgh12", "B", "gh12345678"), "x abcdefgh12345678 y", "x [REDACTED:A] y"},
		{"overlap named after the one that starts first",
			secrets("A", "abcdefgh12", "B", "gh12345678"), "xxabcdefgh12345678", "xx[REDACTED:A]"},
		{"one secret inside another: the longer wins",
			secrets("SHORT", "secret-part", "LONG", "the-secret-part-and-more"), "<the-secret-part-and-more>", "<[REDACTED:LONG]>"},
		{"the shorter alone",
			secrets("SHORT", "secret-part", "LONG", "the-secret-part-and-more"), "<secret-part>", "<[REDACTED:SHORT]>"},
		{"same start: the longest names it",
			secrets("A", "prefix-12", "B", "prefix-1234567"), "prefix-1234567", "[REDACTED:B]"},
		{"self-overlapping occurrences are one run",
			secrets("A", "abababab"), "--abababababab--", "--[REDACTED:A]--"},
		{"binary output", secrets("T", tok), "\x00\xff" + tok + "\x00", "\x00\xff[REDACTED:T]\x00"},
		{"empty value ignored", secrets("E", ""), "anything", "anything"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := redact.New(tc.secrets)
			if got := string(s.Redact([]byte(tc.in))); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
			// Any chunking gives the same: every split point, and one byte
			// at a time.
			for cut := 0; cut <= len(tc.in); cut++ {
				if got := chunked(s, tc.in, cut); got != tc.want {
					t.Errorf("split at %d: %q, want %q", cut, got, tc.want)
				}
			}
			if got := byteAtATime(s, tc.in); got != tc.want {
				t.Errorf("a byte at a time: %q, want %q", got, tc.want)
			}
		})
	}
}

func chunked(s *redact.Set, in string, cut int) string {
	f := s.Filter()
	var out []byte
	out = append(out, f.Write([]byte(in[:cut]))...)
	out = append(out, f.Write([]byte(in[cut:]))...)
	return string(append(out, f.Flush()...))
}

func byteAtATime(s *redact.Set, in string) string {
	f := s.Filter()
	var out []byte
	for i := range len(in) {
		out = append(out, f.Write([]byte{in[i]})...)
	}
	return string(append(out, f.Flush()...))
}

// What cannot be part of a value is released at once: output is not held
// back for nothing.
func TestHoldsBackOnlyPrefixes(t *testing.T) {
	s := redact.New(secrets("T", "ghp_s3cr3tV4lue"))
	f := s.Filter()
	if got := string(f.Write([]byte("plain line\n"))); got != "plain line\n" {
		t.Errorf("Write(plain) = %q, want it all released", got)
	}
	if got := string(f.Write([]byte("then ghp_s3"))); got != "then " {
		t.Errorf("Write(then ghp_s3) = %q, want the possible prefix held", got)
	}
	if got := string(f.Flush()); got != "ghp_s3" {
		t.Errorf("Flush = %q, want the held prefix, which the stream never completed", got)
	}
}

// A stream of overlapping occurrences without end does not grow the
// filter's buffer: the marker goes out once and the run stays hidden.
func TestLongRunBounded(t *testing.T) {
	s := redact.New(secrets("A", "aaaaaaaa"))
	f := s.Filter()
	var out []byte
	chunk := bytes.Repeat([]byte("a"), 1000)
	for range 1000 {
		out = append(out, f.Write(chunk)...)
		if len(out) > len("[REDACTED:A]") {
			t.Fatalf("output grew to %d bytes inside one run", len(out))
		}
	}
	out = append(out, f.Write([]byte("b"))...)
	out = append(out, f.Flush()...)
	if string(out) != "[REDACTED:A]b" {
		t.Errorf("got %q", out)
	}
}

// Random streams with secrets planted in them, cut into random chunks:
// the result is the same as for the whole stream, and holds no value.
func TestRandomStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	secs := secrets("A", "Zq9-Zq9-Zq", "B", "q9-Zq9-Zq9-x", "C", "0123456789abcdef", "D", "\x00\x01\x02\x03\x04\x05\x06\x07")
	s := redact.New(secs)
	alphabet := []byte("Zq9-x01ab\x00\x01\n ")
	for iter := range 2000 {
		var in []byte
		for len(in) < 200 {
			if rng.IntN(8) == 0 {
				in = append(in, secs[rng.IntN(len(secs))].Value...)
			} else {
				in = append(in, alphabet[rng.IntN(len(alphabet))])
			}
		}
		whole := s.Redact(in)
		f := s.Filter()
		var got []byte
		for rest := in; len(rest) > 0; {
			n := 1 + rng.IntN(min(len(rest), 40))
			got = append(got, f.Write(rest[:n])...)
			rest = rest[n:]
		}
		got = append(got, f.Flush()...)
		if !bytes.Equal(got, whole) {
			t.Fatalf("iteration %d: chunked %q\nwhole %q\ninput %q", iter, got, whole, in)
		}
		for _, sec := range secs {
			if bytes.Contains(whole, sec.Value) {
				t.Fatalf("iteration %d: %s survives in %q (input %q)", iter, sec.Name, whole, in)
			}
		}
	}
}

// BenchmarkFilter: redacting ordinary output (no value in it) in the
// executor's 32 KiB chunks, by number of secrets.
func BenchmarkFilter(b *testing.B) {
	chunk := bytes.Repeat([]byte("some ordinary build output, line after line\n"), 32<<10/45)
	for _, n := range []int{1, 2, 10} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			var secs []redact.Secret
			for i := range n {
				secs = append(secs, redact.Secret{Name: fmt.Sprint("S", i), Value: []byte(fmt.Sprintf("ghp_%02d23456789abcdefghijklmnopqrstuvwxyz", i))})
			}
			f := redact.New(secs).Filter()
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				f.Write(chunk)
			}
		})
	}
}
