package state

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

var overlayOfferings = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "tailor_nodeoverlay_offerings",
	Help: "Offerings (instance type × zone × capacity type, per NodePool) whose price a NodeOverlay set at the last read of the cluster; 0 for an overlay that matches nothing.",
}, []string{"nodeoverlay"})

func init() {
	metrics.Registry.MustRegister(overlayOfferings)
}

// overlaid wraps the provider's instance types with the NodeOverlays' prices (cloudprovider.ApplyOverlays), so
// planning, consolidation, the cost bound and explain all see the prices the user set.
func overlaid(instanceTypes InstanceTypesFunc, overlays []apiv1.NodeOverlay) InstanceTypesFunc {
	overlayOfferings.Reset()
	if len(overlays) == 0 {
		return instanceTypes
	}
	counts := map[string]int{} // summed over the NodePools of this read
	for _, o := range overlays {
		counts[o.Name] = 0
		overlayOfferings.WithLabelValues(o.Name).Set(0)
	}
	return func(ctx context.Context, np *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) {
		its, err := instanceTypes(ctx, np)
		if err != nil {
			return nil, err
		}
		out, applied, err := cloudprovider.ApplyOverlays(its, np.Name, overlays)
		if err != nil {
			return nil, err
		}
		for name, n := range applied {
			counts[name] += n
			overlayOfferings.WithLabelValues(name).Set(float64(counts[name]))
		}
		return out, nil
	}
}
