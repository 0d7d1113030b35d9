package scheduling

import (
	"cmp"
	"slices"
)

// size orders pods for first-fit decreasing: cpu and memory normalized at 1 core : 4GiB.
func size(p *podInfo) float64 {
	return float64(p.requests.CPU)/1000 + float64(p.requests.Memory)/(4<<30)
}

// balancedOrder is the order pods are placed in: largest first (first-fit decreasing), but with cpu-heavy and
// memory-heavy pods interleaved so that the pods placed so far keep the batch's overall memory-to-cpu ratio. Claims
// fill in that order, so each one gets a mix that uses its cpu and memory alike; plain decreasing order puts the
// memory-heavy pods first, fills whole nodes' memory with them and leaves their cpu idle (and later nodes' memory).
func balancedOrder(infos []*podInfo) []*podInfo {
	var cpu, mem float64
	for _, p := range infos {
		cpu += float64(p.requests.CPU)
		mem += float64(p.requests.Memory)
	}
	byShape := func(a, b *podInfo) int { return cmp.Compare(size(b), size(a)) }
	if cpu == 0 || mem == 0 {
		order := slices.Clone(infos)
		slices.SortStableFunc(order, byShape)
		return order
	}
	ratio := mem / cpu
	var cpuHeavy, memHeavy []*podInfo
	for _, p := range infos {
		if float64(p.requests.Memory) <= ratio*float64(p.requests.CPU) {
			cpuHeavy = append(cpuHeavy, p)
		} else {
			memHeavy = append(memHeavy, p)
		}
	}
	slices.SortStableFunc(cpuHeavy, byShape)
	slices.SortStableFunc(memHeavy, byShape)
	order := make([]*podInfo, 0, len(infos))
	var sumCPU, sumMem float64
	for len(cpuHeavy) > 0 || len(memHeavy) > 0 {
		var p *podInfo
		if len(memHeavy) == 0 || len(cpuHeavy) > 0 && sumMem > ratio*sumCPU {
			p, cpuHeavy = cpuHeavy[0], cpuHeavy[1:]
		} else {
			p, memHeavy = memHeavy[0], memHeavy[1:]
		}
		sumCPU += float64(p.requests.CPU)
		sumMem += float64(p.requests.Memory)
		order = append(order, p)
	}
	return order
}
