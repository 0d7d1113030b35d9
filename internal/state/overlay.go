package state

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
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

// ListOptional lists a kind Tailor can do without (NodeOverlay, CapacityBuffer): when its CRD is not installed — a
// Helm upgrade does not apply new CRDs — the list is left empty and the cluster is planned as if there were none,
// with an error log naming the CRD to apply, instead of failing every read and stopping provisioning.
func ListOptional(ctx context.Context, kube client.Reader, list client.ObjectList) error {
	err := kube.List(ctx, list)
	if err == nil {
		return nil
	}
	if !meta.IsNoMatchError(err) {
		return fmt.Errorf("listing %T: %w", list, err)
	}
	kind := strings.TrimSuffix(fmt.Sprintf("%T", list), "List")
	if _, seen := missingKinds.LoadOrStore(kind, true); !seen {
		log.FromContext(ctx).Error(err, "a Tailor CRD is not installed: planning without it; apply charts/tailor/crds/ (Helm does not upgrade CRDs)", "kind", kind)
	}
	return nil
}

// missingKinds remembers the optional kinds already reported missing, so the log says it once per process.
var missingKinds sync.Map

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
