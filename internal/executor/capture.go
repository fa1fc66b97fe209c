package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"
)

const chunkSize = 32 << 10

var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// capture consumes one output stream: it keeps the head, counts and hashes
// everything, and passes each chunk on to the live sink.
type capture struct {
	limit int
	head  []byte
	n     int64
	h     hash.Hash

	filter     Filter // nil: the stream as read
	sink       io.Writer
	sinkMu     *sync.Mutex // shared with the other stream's capture when both sinks are one writer
	sinkFailed bool
}

func newCapture(limit int, sink io.Writer) *capture {
	return &capture{limit: limit, h: sha256.New(), sink: sink}
}

// readFrom reads r to its end or first error. A read error (the pipe was
// closed by the drain timeout) just ends the stream.
func (c *capture) readFrom(r io.Reader) {
	buf := chunks.Get().(*[chunkSize]byte)
	defer chunks.Put(buf)
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			if c.filter != nil {
				c.add(c.filter.Write(buf[:n]))
			} else {
				c.add(buf[:n])
			}
		}
		if err != nil {
			if c.filter != nil {
				c.add(c.filter.Flush())
			}
			return
		}
	}
}

func (c *capture) add(p []byte) {
	if len(p) == 0 {
		return
	}
	if room := c.limit - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(room, len(p))]...)
	}
	c.n += int64(len(p))
	c.h.Write(p)
	if c.sink != nil && !c.sinkFailed {
		c.writeSink(p)
	}
}

// writeSink writes p to the sink. Its failure is remembered and never
// returned: what the sink does must not affect capture or the process.
func (c *capture) writeSink(p []byte) {
	if c.sinkMu != nil {
		c.sinkMu.Lock()
		defer c.sinkMu.Unlock()
	}
	n, err := c.sink.Write(p)
	if err != nil || n != len(p) {
		c.sinkFailed = true
	}
}

func (c *capture) output() Output {
	return Output{Head: c.head, Bytes: c.n, SHA256: hex.EncodeToString(c.h.Sum(nil))}
}
