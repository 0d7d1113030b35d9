package scheduling

import (
	"slices"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// podIndex finds the pods a label selector may match without testing every pod: an inverted index from label
// key and value to pod positions. With a thousand Deployments that each spread or repel their own replicas, testing
// every group against every pod would be quadratic.
type podIndex struct {
	byLabel map[string]map[string][]int // key → value → positions, ascending
	n       int
}

func newPodIndex(sets []labels.Set) *podIndex {
	ix := &podIndex{byLabel: map[string]map[string][]int{}, n: len(sets)}
	for i, set := range sets {
		for k, v := range set {
			if ix.byLabel[k] == nil {
				ix.byLabel[k] = map[string][]int{}
			}
			ix.byLabel[k][v] = append(ix.byLabel[k][v], i)
		}
	}
	return ix
}

// candidates returns the positions, ascending, of the pods sel may match; every pod a selector matches is among
// them (the caller still tests each). Without an equality or In requirement to look up, that is every pod.
func (ix *podIndex) candidates(sel labels.Selector) []int {
	reqs, selectable := sel.Requirements()
	if !selectable {
		return nil // labels.Nothing()
	}
	var best []int
	found := false
	for _, r := range reqs {
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
		default:
			continue
		}
		var c []int
		values := r.ValuesUnsorted()
		for _, v := range values {
			c = append(c, ix.byLabel[r.Key()][v]...)
		}
		if len(values) > 1 {
			slices.Sort(c)
		}
		if !found || len(c) < len(best) {
			best, found = c, true
		}
	}
	if !found {
		best = make([]int, ix.n)
		for i := range best {
			best[i] = i
		}
	}
	return best
}
