package gateway

import (
	"context"

	"github.com/gatehouse-dev/gatehouse"
)

// Head returns the newest event of the journal, for a checkpoint: ENOTFOUND
// if the journal is empty, EFORBIDDEN unless p is the admin.
func (g *Gateway) Head(ctx context.Context, p gatehouse.Principal) (gatehouse.Event, error) {
	if err := requireAdmin(p); err != nil {
		return gatehouse.Event{}, err
	}
	return g.store.Head(ctx)
}

// VerifyAnchored verifies the journal as Verify does and checks that it
// still holds the anchor's event with its hash (see
// gatehouse.VerifyAnchored). The anchor's signature is the caller's to
// check.
func (g *Gateway) VerifyAnchored(ctx context.Context, p gatehouse.Principal, a gatehouse.Anchor) (*gatehouse.VerifyReport, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	return g.inSnapshot(ctx, func(ctx context.Context, s gatehouse.Store) (*gatehouse.VerifyReport, error) {
		return gatehouse.VerifyAnchored(ctx, s, a)
	})
}
