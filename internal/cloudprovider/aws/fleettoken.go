package aws

import (
	"errors"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// fleetTokenReuse bounds how long a CreateFleet whose outcome is unknown is sent again with its client token. EC2
// remembers tokens far longer; the bound only keeps a stale request from being replayed long after the claim's
// needs changed.
const fleetTokenReuse = 10 * time.Minute

// unsettledFleets remembers, per NodeClaim, the client token of a CreateFleet call whose answer never arrived (a 5xx
// after the SDK's retries, a dropped connection): EC2 may have launched it. The next launch of the claim asking for
// the same thing sends that token again, so EC2 answers with what the lost call launched instead of launching a second
// instance — the lookup by tag cannot be trusted to find it, since DescribeInstances lags launches. A definite answer
// settles the claim. The memory is this process's only; after a restart the lookup by tag and the garbage
// collector, which terminates a claim's second instance, remain. The zero value is ready to use.
type unsettledFleets struct {
	mu    sync.Mutex
	byKey map[string]unsettledFleet // by claimKey
}

type unsettledFleet struct {
	token string
	asked string // what the call asked for (fleetAsked)
	at    time.Time
}

func claimKey(nc *apiv1.NodeClaim) string { return nc.Name + "/" + string(nc.UID) }

// token is the client token to send for the claim's launch asking for asked (the request without its token): the
// unsettled call's when it asked for the very same within fleetTokenReuse, else fresh.
func (u *unsettledFleets) token(nc *apiv1.NodeClaim, asked, fresh string, now time.Time) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if f, ok := u.byKey[claimKey(nc)]; ok && f.asked == asked && now.Sub(f.at) < fleetTokenReuse {
		return f.token
	}
	return fresh
}

// settle records the outcome of a CreateFleet call: unknown (err is not an answer from EC2, or a server error) keeps
// its token for the next launch of the claim; anything else forgets it.
func (u *unsettledFleets) settle(nc *apiv1.NodeClaim, asked, token string, now time.Time, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	key := claimKey(nc)
	if u.byKey == nil {
		u.byKey = map[string]unsettledFleet{}
	}
	for k, f := range u.byKey {
		if now.Sub(f.at) >= fleetTokenReuse {
			delete(u.byKey, k) // a claim deleted while unsettled leaves nothing behind for long
		}
	}
	if err != nil && outcomeUnknown(err) {
		// A replay keeps the time of the call that may have launched.
		if f, ok := u.byKey[key]; !ok || f.token != token {
			u.byKey[key] = unsettledFleet{token: token, asked: asked, at: now}
		}
		return
	}
	delete(u.byKey, key)
}

// outcomeUnknown tells whether a failed call may have been carried out: no answer from AWS at all, or a server error.
func outcomeUnknown(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return true
	}
	var resp *smithyhttp.ResponseError
	return errors.As(err, &resp) && resp.HTTPStatusCode() >= 500
}
