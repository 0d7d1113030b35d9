package operator

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// tailorKinds are the kinds of api/v1 the controller watches or reads, with the plural of their CRD.
var tailorKinds = []struct{ kind, plural string }{
	{apiv1.NodePoolKind, "nodepools"},
	{apiv1.NodeClaimKind, "nodeclaims"},
	{apiv1.EC2NodeClassKind, "ec2nodeclasses"},
	{apiv1.NodeOverlayKind, "nodeoverlays"},
	{apiv1.CapacityBufferKind, "capacitybuffers"},
}

// CheckCRDs reports every Tailor CRD the API server does not serve at tailor.sh/v1, in one error naming each and the
// fix. Helm installs CRDs only on the first install and never upgrades them, so after an upgrade that adds a kind the
// controller would otherwise fail later, on a watch, with a message that names neither.
func CheckCRDs(mapper meta.RESTMapper) error {
	var missing []string
	for _, k := range tailorKinds {
		_, err := mapper.RESTMapping(schema.GroupKind{Group: apiv1.Group, Kind: k.kind}, apiv1.GroupVersion.Version)
		switch {
		case meta.IsNoMatchError(err):
			missing = append(missing, k.plural+"."+apiv1.Group)
		case err != nil:
			return fmt.Errorf("looking up the %s CRD: %w", k.kind, err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return errors.New("the API server does not serve Tailor's CRD(s) " + strings.Join(missing, ", ") +
		" at " + apiv1.GroupVersion.String() + ": apply them with `kubectl apply --server-side -f charts/tailor/crds/` " +
		"(Helm installs CRDs only on the first install and does not upgrade them)")
}
