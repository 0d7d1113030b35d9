package scheduling

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestPodIndexFindsEveryMatch: the index must never hide a pod a selector matches, and should narrow the search
// when the selector has an equality or In requirement.
func TestPodIndexFindsEveryMatch(t *testing.T) {
	sets := []labels.Set{
		{"app": "web", "tier": "front"},
		{"app": "db", "tier": "back"},
		{"app": "web"},
		{"team": "a"},
		{},
		{"app": "cache", "tier": "back"},
	}
	ix := newPodIndex(sets)
	tests := []struct {
		name    string
		sel     labels.Selector
		maxCand int
	}{
		{name: "equality", sel: mustSelector(t, &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}), maxCand: 2},
		{name: "two equalities use the narrower", sel: mustSelector(t, &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "front"}}), maxCand: 1},
		{name: "in", sel: mustSelector(t, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"db", "cache"}}}}), maxCand: 2},
		{name: "not in scans everything", sel: mustSelector(t, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}}}}), maxCand: len(sets)},
		{name: "exists scans everything", sel: mustSelector(t, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpExists}}}), maxCand: len(sets)},
		{name: "empty selector matches all", sel: labels.Everything(), maxCand: len(sets)},
		{name: "nothing", sel: labels.Nothing(), maxCand: 0},
		{name: "no such value", sel: mustSelector(t, &metav1.LabelSelector{MatchLabels: map[string]string{"app": "queue"}}), maxCand: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want, got []int
			for i, set := range sets {
				if tt.sel.Matches(set) {
					want = append(want, i)
				}
			}
			cand := ix.candidates(tt.sel)
			for _, i := range cand {
				if tt.sel.Matches(sets[i]) {
					got = append(got, i)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("matches through the index (-want +got):\n%s", diff)
			}
			if len(cand) > tt.maxCand {
				t.Errorf("%d candidates, want at most %d", len(cand), tt.maxCand)
			}
		})
	}
}

func mustSelector(t *testing.T, ls *metav1.LabelSelector) labels.Selector {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}
