package v1

import (
	"fmt"
	"strconv"
	"strings"
)

// Defaults of consolidationThreshold, as the CRD fills them in; a NodePool read without defaulting (a manifest given
// to tailor simulate or explain) gets the same.
const (
	DefaultConsolidationSavings       = "10%"
	DefaultConsolidationMinimumHourly = "0.01"
)

// ConsolidationTerms are a NodePool's consolidation settings as numbers.
type ConsolidationTerms struct {
	Policy ConsolidationPolicy
	// SavingsFraction is consolidationThreshold.savings as a fraction (0.1 for "10%").
	SavingsFraction float64
	// MinimumHourly is consolidationThreshold.minimumHourly in $/h.
	MinimumHourly float64
	// BalanceFactor is the Balanced policy's k (DefaultBalanceFactor when unset).
	BalanceFactor float64
}

// ConsolidationTerms reads the NodePool's consolidation policy and threshold; an unset threshold or bound gets its
// default. The API server validates the strings, so an error means the object skipped validation.
func (in *NodePool) ConsolidationTerms() (ConsolidationTerms, error) {
	d := in.Spec.Disruption
	t := ConsolidationTerms{Policy: d.ConsolidationPolicy, BalanceFactor: DefaultBalanceFactor}
	if t.Policy == "" {
		t.Policy = ConsolidationPolicyBalanced
	}
	th := ConsolidationThreshold{}
	if d.ConsolidationThreshold != nil {
		th = *d.ConsolidationThreshold
	} else {
		th = ConsolidationThreshold{Savings: DefaultConsolidationSavings, MinimumHourly: DefaultConsolidationMinimumHourly}
	}
	if th.Savings == "" {
		th.Savings = DefaultConsolidationSavings
	}
	if th.MinimumHourly == "" {
		th.MinimumHourly = DefaultConsolidationMinimumHourly
	}
	pct, ok := strings.CutSuffix(th.Savings, "%")
	f, err := strconv.ParseFloat(pct, 64)
	if !ok || err != nil || f < 0 || f > 100 {
		return t, fmt.Errorf("consolidationThreshold.savings %q is not a percentage from 0%% to 100%%", th.Savings)
	}
	t.SavingsFraction = f / 100
	if t.MinimumHourly, err = strconv.ParseFloat(th.MinimumHourly, 64); err != nil || t.MinimumHourly < 0 {
		return t, fmt.Errorf("consolidationThreshold.minimumHourly %q is not a non-negative decimal", th.MinimumHourly)
	}
	if th.BalanceFactor != nil {
		if *th.BalanceFactor < 1 {
			return t, fmt.Errorf("consolidationThreshold.balanceFactor %d is below 1", *th.BalanceFactor)
		}
		t.BalanceFactor = float64(*th.BalanceFactor)
	}
	return t, nil
}
