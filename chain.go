package gatehouse

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// GenesisHash is the PrevHash of the first event of every journal.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

const hashDomain = "gatehouse.event.v1\x00"

// HashEvent returns the hex SHA-256 of e's canonical encoding: a domain
// tag, then Seq and Time (Unix nanoseconds, UTC) as big-endian 64-bit
// integers, then Type, Subject and Data each preceded by its length as a
// big-endian 32-bit integer, then PrevHash as 32 raw bytes. The Hash field
// itself is not part of the encoding. Length prefixes make the encoding
// unambiguous: no two different events encode alike.
func HashEvent(e Event) string {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(hashDomain))
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.Time.UnixNano()))
	h.Write(n[:])
	for _, s := range []string{string(e.Type), e.Subject, string(e.Data)} {
		binary.BigEndian.PutUint32(n[:4], uint32(len(s)))
		h.Write(n[:4])
		h.Write([]byte(s))
	}
	prev, err := hex.DecodeString(e.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		// A malformed PrevHash still hashes deterministically; it can
		// never equal a well-formed chain's value.
		prev = []byte(e.PrevHash)
	}
	h.Write(prev)
	return hex.EncodeToString(h.Sum(nil))
}

// Chain links events into the journal's hash chain. Its zero value is the
// head of an empty journal. It is not safe for concurrent use.
type Chain struct {
	Seq  int64  // of the last event linked
	Hash string // of the last event linked; "" means GenesisHash
}

// Link assigns e the next sequence number and its hashes, advances the
// chain and returns the linked event.
func (c *Chain) Link(e Event) Event {
	e.Seq = c.Seq + 1
	e.PrevHash = c.head()
	e.Hash = HashEvent(e)
	c.Seq, c.Hash = e.Seq, e.Hash
	return e
}

func (c *Chain) head() string {
	if c.Hash == "" {
		return GenesisHash
	}
	return c.Hash
}

// ChainError describes the first event at which a journal stops being an
// unbroken chain.
type ChainError struct {
	Seq    int64  // the sequence number at which the break was found
	Reason string // "altered", "deleted", "inserted or reordered"
	Detail string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("event %d: %s: %s", e.Seq, e.Reason, e.Detail)
}

// Check verifies that e is the next event of the chain and, if so,
// advances it. Otherwise it returns a *ChainError naming what is wrong and
// leaves the chain where it was.
func (c *Chain) Check(e Event) error {
	want := c.Seq + 1
	switch {
	case e.Seq > want:
		return &ChainError{Seq: want, Reason: "deleted",
			Detail: fmt.Sprintf("events %d to %d are missing (next stored event is %d)", want, e.Seq-1, e.Seq)}
	case e.Seq < want:
		return &ChainError{Seq: e.Seq, Reason: "inserted or reordered",
			Detail: fmt.Sprintf("sequence number %d follows %d", e.Seq, c.Seq)}
	case HashEvent(e) != e.Hash:
		return &ChainError{Seq: e.Seq, Reason: "altered",
			Detail: "its content does not match its hash"}
	case e.PrevHash != c.head():
		return &ChainError{Seq: e.Seq, Reason: "inserted or reordered",
			Detail: fmt.Sprintf("its prev_hash does not match the hash of event %d", c.Seq)}
	}
	c.Seq, c.Hash = e.Seq, e.Hash
	return nil
}
