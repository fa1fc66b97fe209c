package postgres_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// TestCommitAnswerLost loses the connection in the middle of a COMMIT,
// through a proxy between the store and the server: once after the
// server has the COMMIT (it commits, the answer never comes), once before
// (it rolls back). Either way the Append succeeds, and its events are in
// the journal exactly once.
func TestCommitAnswerLost(t *testing.T) {
	u := pgtest.URL(t)
	px := newProxy(t, u)
	s := mustOpen(t, px.url, postgres.WithWriteTimeout(20*time.Second))
	storetest.Record(t, s, action(1, gatehouse.StatusSucceeded))
	for i, mode := range []int32{cutAfterCommit, cutBeforeCommit} {
		px.mode.Store(mode)
		first, _ := action(10+i, gatehouse.StatusRunning).Events(t)
		got, err := s.Append(context.Background(), first...)
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		if px.cuts.Load() != int32(i+1) {
			t.Fatalf("mode %d: the proxy cut %d connections, want %d", mode, px.cuts.Load(), i+1)
		}
		es := storetest.AllEvents(t, s)
		n := 0
		for _, e := range es {
			if e.Subject == storetest.ActionID(10+i) {
				n++
			}
		}
		if n != 3 {
			t.Errorf("mode %d: the action has %d events in the journal, want 3", mode, n)
		}
		last := es[len(es)-1]
		if got[2].Seq != last.Seq || got[2].Hash != last.Hash {
			t.Errorf("mode %d: Append returned seq %d, the journal ends at %d", mode, got[2].Seq, last.Seq)
		}
	}
	storetest.CheckChain(t, s)
	if diff := storetest.Verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

const (
	pass            = iota
	cutAfterCommit  // forward a COMMIT, then cut before its answer
	cutBeforeCommit // cut instead of forwarding a COMMIT
)

// proxy forwards TCP on loopback to the test server (unix socket or TCP)
// and cuts a connection at its first COMMIT when told to, once.
type proxy struct {
	url  string
	mode atomic.Int32
	cuts atomic.Int32
	dial func() (net.Conn, error)
}

func newProxy(t *testing.T, u string) *proxy {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	host, port := p.Hostname(), p.Port()
	if h := q.Get("host"); h != "" {
		host = h
	}
	if port == "" {
		port = "5432"
	}
	px := &proxy{}
	if strings.HasPrefix(host, "/") {
		path := host + "/.s.PGSQL." + port
		px.dial = func() (net.Conn, error) { return net.Dial("unix", path) }
	} else {
		addr := net.JoinHostPort(host, port)
		px.dial = func() (net.Conn, error) { return net.Dial("tcp", addr) }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go px.serve(c)
		}
	}()
	q.Del("host")
	q.Set("sslmode", "disable")
	p.Host = ln.Addr().String()
	p.RawQuery = q.Encode()
	px.url = p.String()
	return px
}

func (px *proxy) serve(client net.Conn) {
	server, err := px.dial()
	if err != nil {
		client.Close()
		return
	}
	var once sync.Once
	closeBoth := func() { once.Do(func() { client.Close(); server.Close() }) }
	var mute atomic.Bool // drop what the server says from now on
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !mute.Load() {
				if _, werr := client.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		closeBoth()
	}()
	defer closeBoth()
	// The startup message has no type byte.
	var n [4]byte
	if _, err := io.ReadFull(client, n[:]); err != nil {
		return
	}
	body := make([]byte, binary.BigEndian.Uint32(n[:])-4)
	if _, err := io.ReadFull(client, body); err != nil {
		return
	}
	server.Write(append(n[:], body...))
	// The COMMIT comes as a simple query, or in the extended protocol as
	// a Bind of a statement that was parsed from "COMMIT".
	commits := map[string]bool{}
	isCommit := func(sql []byte) bool {
		return strings.EqualFold(strings.TrimSpace(strings.TrimRight(string(sql), "\x00;")), "commit")
	}
	cstrings := func(b []byte) []string { return strings.SplitN(string(b), "\x00", 3) }
	afterCommit := false // forwarding the rest of a COMMIT's messages, muted
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(client, hdr[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[1:])-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		msg := append(hdr[:], body...)
		commit := false
		switch hdr[0] {
		case 'Q':
			commit = isCommit(body)
		case 'P': // name, query
			if f := cstrings(body); len(f) >= 2 && isCommit([]byte(f[1])) {
				commits[f[0]] = true
			}
		case 'B': // portal, statement
			if f := cstrings(body); len(f) >= 2 && commits[f[1]] {
				commit = true
			}
		}
		if commit && !afterCommit {
			switch px.mode.Load() {
			case cutAfterCommit:
				if px.mode.CompareAndSwap(cutAfterCommit, pass) {
					mute.Store(true)
					afterCommit = true
				}
			case cutBeforeCommit:
				if px.mode.CompareAndSwap(cutBeforeCommit, pass) {
					px.cuts.Add(1)
					return
				}
			}
		}
		if _, err := server.Write(msg); err != nil {
			return
		}
		if afterCommit && (hdr[0] == 'S' || hdr[0] == 'Q') {
			time.Sleep(200 * time.Millisecond) // the server commits
			px.cuts.Add(1)
			return
		}
	}
}
