package stripegw

import (
	"context"
)

// Check makes the cheapest authenticated call there is, retrieving the
// account's balance, so that `tierup doctor` finds a wrong, revoked or
// under-privileged key before the first customer's payment does. It
// reports whether the key is a live-mode one.
func (g *Gateway) Check(ctx context.Context) (live bool, err error) {
	b, err := g.client.V1Balance.Retrieve(ctx, nil)
	if err != nil {
		return false, g.mapError(ctx, "check the API key", err)
	}
	return b.Livemode, nil
}
