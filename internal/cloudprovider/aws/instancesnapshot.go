package aws

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// instanceSnapshotTTL is how long one listing of the cluster's instances answers IsDrifted. It is shorter than the
// disruption controller's pass interval (5 s): each pass lists once, at its first question, and answers the rest of
// its NodeClaims from that listing, so a pass over 1,000 nodes costs one DescribeInstances page instead of 1,000
// calls. What drift compares (image, subnet, security groups, tags at launch) does not change on a running
// instance, so an answer a few seconds old is as good as a fresh one.
const instanceSnapshotTTL = 3 * time.Second

// instanceListPageSize is the DescribeInstances page size of the listing, the most EC2 allows.
const instanceListPageSize = 1000

// instanceSnapshot is the last listing of this cluster's live instances, by instance id: what drift compares of
// each. Its zero value is empty.
type instanceSnapshot struct {
	// mu is held across a refresh, so that concurrent callers wait for one listing instead of each making their own.
	mu   sync.Mutex
	at   time.Time
	byID map[string]driftFacts
}

// snapshotInstance returns what drift compares of the instance with this id, from a listing of the cluster's live
// instances no older than instanceSnapshotTTL, listing again when it is older. An instance the listing lacks
// (launched since, gone, or not tagged for this cluster) is described alone, as instanceByID does; found is false
// when EC2 does not know it.
func (p *Provider) snapshotInstance(ctx context.Context, id string) (facts driftFacts, found bool, err error) {
	s := &p.snapshot
	s.mu.Lock()
	if s.byID == nil || p.clk.Since(s.at) >= instanceSnapshotTTL {
		at := p.clk.Now()
		byID, err := p.listClusterInstances(ctx, len(s.byID))
		if err != nil {
			s.mu.Unlock()
			return driftFacts{}, false, err
		}
		s.byID, s.at = byID, at
	}
	facts, found = s.byID[id]
	s.mu.Unlock()
	if found {
		return facts, true, nil
	}
	inst, err := p.instanceByID(ctx, id)
	if err != nil || inst == nil {
		return driftFacts{}, false, err
	}
	return factsOf(inst), true, nil
}

// listClusterInstances pages through this cluster's live instances, instanceListPageSize at a time, keeping what
// drift compares of each (size: how many the last listing found). Each page is reduced as it comes: the SDK's
// Instances of every page at once were 7 MB a thousand instances, allocated every pass.
func (p *Provider) listClusterInstances(ctx context.Context, size int) (map[string]driftFacts, error) {
	out := make(map[string]driftFacts, size)
	pager := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{
		Filters:    []ec2types.Filter{filter("tag:"+TagCluster, p.opts.ClusterName), filter("instance-state-name", liveStates...)},
		MaxResults: aws.Int32(instanceListPageSize),
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the cluster's instances: %w", err)
		}
		for _, r := range page.Reservations {
			for i := range r.Instances {
				out[aws.ToString(r.Instances[i].InstanceId)] = factsOf(&r.Instances[i])
			}
		}
	}
	return out, nil
}
