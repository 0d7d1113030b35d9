package state

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// The disruption budget rules, shared by the disruption controller and `tailor explain`.

// cronParser reads budget schedules: five fields (minute hour day-of-month month day-of-week) or a macro.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// AllowedDisruptions is how many of a NodePool's nodes may be disrupted at once for reason at now: the smallest count among
// its active budgets that apply to the reason (a budget without reasons applies to all). total is the pool's node
// count; a percentage rounds up. With no budget at all the default is 10%. A budget that cannot be evaluated is an
// error naming the NodePool, the field (spec.disruption.budgets[i].schedule, .duration or .nodes) and the fix.
func AllowedDisruptions(np *apiv1.NodePool, reason string, total int, now time.Time) (int, error) {
	budgets := np.Spec.Disruption.Budgets
	if len(budgets) == 0 {
		budgets = []apiv1.Budget{{Nodes: "10%"}}
	}
	allowed := math.MaxInt
	for i, b := range budgets {
		if !appliesTo(b, reason) {
			continue
		}
		field := fmt.Sprintf("spec.disruption.budgets[%d]", i)
		active, err := isActive(b, field, now)
		if err != nil {
			return 0, fmt.Errorf("nodepool %q: %w", np.Name, err)
		}
		if !active {
			continue
		}
		n, err := budgetCount(b.Nodes, field, total)
		if err != nil {
			return 0, fmt.Errorf("nodepool %q: %w", np.Name, err)
		}
		allowed = min(allowed, n)
	}
	if allowed == math.MaxInt {
		return total, nil
	}
	return allowed, nil
}

func appliesTo(b apiv1.Budget, reason string) bool {
	if len(b.Reasons) == 0 {
		return true
	}
	for _, r := range b.Reasons {
		if string(r) == reason {
			return true
		}
	}
	return false
}

// isActive tells whether a scheduled budget's window covers now; a budget without a schedule is always active. field
// is the budget's path in the NodePool, for the error.
func isActive(b apiv1.Budget, field string, now time.Time) (bool, error) {
	if b.Schedule == nil {
		return true, nil
	}
	if b.Duration == nil {
		return false, fmt.Errorf("%s.duration is not set: set it with the schedule to how long the budget stays active after each scheduled time, such as \"8h\"", field)
	}
	sched, err := cronParser.Parse(*b.Schedule)
	if err != nil {
		return false, fmt.Errorf("%s.schedule %q cannot be read (%w): set it to a cron expression of five fields (minute hour day-of-month month day-of-week, ranges from low to high) such as \"0 9 * * mon-fri\", or a macro such as @daily",
			field, *b.Schedule, err)
	}
	// The window that could cover now started at most duration ago.
	start := sched.Next(now.UTC().Add(-b.Duration.Duration - time.Second))
	if start.IsZero() {
		// The parser finds no time within five years (a day the month never has, such as 31 February): read as
		// "now or before", such a budget would be active for ever.
		return false, fmt.Errorf("%s.schedule %q never fires (no such date): set it to a cron expression of a day that exists, such as \"0 9 * * mon-fri\"",
			field, *b.Schedule)
	}
	return !start.After(now), nil
}

func budgetCount(nodes, field string, total int) (int, error) {
	if nodes == "" {
		nodes = "10%"
	}
	if p, ok := strings.CutSuffix(nodes, "%"); ok {
		pct, err := strconv.Atoi(p)
		if err != nil || pct < 0 || pct > 100 {
			return 0, fmt.Errorf("%s.nodes %q: set it to a percentage from 0%% to 100%% such as \"10%%\", or a count such as \"5\"", field, nodes)
		}
		return int(math.Ceil(float64(total) * float64(pct) / 100)), nil
	}
	n, err := strconv.Atoi(nodes)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s.nodes %q: set it to a count such as \"5\" or a percentage such as \"10%%\"", field, nodes)
	}
	return n, nil
}
