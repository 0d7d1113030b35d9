package main

// The shape of every family the catalogue covers. Sizes follow the EC2 naming rule (large = 2 vCPUs, xlarge = 4,
// Nxlarge = 4N, metal-Nxl = 4N, medium = 1) with memory = vCPUs × gibPerVCPU; the sizes that break the rule are
// listed in shapes. Which sizes exist comes from the price and max-pods tables: a size is in the catalogue when
// both list it. Figures are from the EC2 instance type documentation (https://aws.amazon.com/ec2/instance-types/).

const (
	amd64 = "amd64"
	arm64 = "arm64"
)

type gpuModel struct {
	name         string
	manufacturer string
	memoryMiB    int64 // per GPU, nominal (the marketed GB × 1024)
}

type shape struct {
	vcpus     int64
	memoryMiB int64
}

type family struct {
	name       string
	arch       string
	gibPerVCPU float64
	// metalVCPUs is the vCPU count of the plain "metal" size, when the family has one.
	metalVCPUs int64
	gpu        *gpuModel
	// gpus is the GPU count per size.
	gpus map[string]int64
	// shapes overrides the rule for sizes that break it.
	shapes map[string]shape
}

var (
	t4      = &gpuModel{"t4", "nvidia", 16 * 1024}
	t4g     = &gpuModel{"t4g", "nvidia", 16 * 1024}
	a10g    = &gpuModel{"a10g", "nvidia", 24 * 1024}
	l4      = &gpuModel{"l4", "nvidia", 24 * 1024}
	l40s    = &gpuModel{"l40s", "nvidia", 48 * 1024}
	v100    = &gpuModel{"v100", "nvidia", 16 * 1024}
	v100x32 = &gpuModel{"v100", "nvidia", 32 * 1024}
	a100    = &gpuModel{"a100", "nvidia", 40 * 1024}
	a100x80 = &gpuModel{"a100", "nvidia", 80 * 1024}
	h100    = &gpuModel{"h100", "nvidia", 80 * 1024}
	h200    = &gpuModel{"h200", "nvidia", 141 * 1024}
	b200    = &gpuModel{"b200", "nvidia", 179 * 1024}
	v520    = &gpuModel{"radeon-pro-v520", "amd", 8 * 1024}
)

// gib is GiB in MiB.
func gib(n float64) int64 { return int64(n * 1024) }

var burstable = map[string]shape{
	"nano": {2, gib(0.5)}, "micro": {2, gib(1)}, "small": {2, gib(2)}, "medium": {2, gib(4)},
	"large": {2, gib(8)}, "xlarge": {4, gib(16)}, "2xlarge": {8, gib(32)},
}

// oneGPUUpTo16xl is the g5/g6/g6e layout: one GPU per size, four on 12xlarge and 24xlarge, eight on 48xlarge.
var oneGPUUpTo16xl = map[string]int64{
	"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8,
}

var families = []family{
	// General purpose.
	{name: "a1", arch: arm64, gibPerVCPU: 2, metalVCPUs: 16},
	{name: "m5", arch: amd64, gibPerVCPU: 4, metalVCPUs: 96},
	{name: "m5a", arch: amd64, gibPerVCPU: 4},
	{name: "m5ad", arch: amd64, gibPerVCPU: 4},
	{name: "m5d", arch: amd64, gibPerVCPU: 4, metalVCPUs: 96},
	{name: "m5dn", arch: amd64, gibPerVCPU: 4, metalVCPUs: 96},
	{name: "m5n", arch: amd64, gibPerVCPU: 4, metalVCPUs: 96},
	{name: "m5zn", arch: amd64, gibPerVCPU: 4, metalVCPUs: 48},
	{name: "m6a", arch: amd64, gibPerVCPU: 4, metalVCPUs: 192},
	{name: "m6g", arch: arm64, gibPerVCPU: 4, metalVCPUs: 64},
	{name: "m6gd", arch: arm64, gibPerVCPU: 4, metalVCPUs: 64},
	{name: "m6i", arch: amd64, gibPerVCPU: 4, metalVCPUs: 128},
	{name: "m6id", arch: amd64, gibPerVCPU: 4, metalVCPUs: 128},
	{name: "m6idn", arch: amd64, gibPerVCPU: 4, metalVCPUs: 128},
	{name: "m6in", arch: amd64, gibPerVCPU: 4, metalVCPUs: 128},
	{name: "m7a", arch: amd64, gibPerVCPU: 4},
	{name: "m7g", arch: arm64, gibPerVCPU: 4, metalVCPUs: 64},
	{name: "m7gd", arch: arm64, gibPerVCPU: 4, metalVCPUs: 64},
	{name: "m7i", arch: amd64, gibPerVCPU: 4},
	{name: "m7i-flex", arch: amd64, gibPerVCPU: 4},
	{name: "m8a", arch: amd64, gibPerVCPU: 4},
	{name: "m8g", arch: arm64, gibPerVCPU: 4},
	{name: "m8gd", arch: arm64, gibPerVCPU: 4},
	{name: "m8i", arch: amd64, gibPerVCPU: 4},
	{name: "m8i-flex", arch: amd64, gibPerVCPU: 4},
	{name: "t3", arch: amd64, shapes: burstable},
	{name: "t3a", arch: amd64, shapes: burstable},
	{name: "t4g", arch: arm64, shapes: burstable},

	// Compute optimized.
	{name: "c5", arch: amd64, gibPerVCPU: 2, metalVCPUs: 96},
	{name: "c5a", arch: amd64, gibPerVCPU: 2},
	{name: "c5ad", arch: amd64, gibPerVCPU: 2},
	{name: "c5d", arch: amd64, gibPerVCPU: 2, metalVCPUs: 96},
	{name: "c5n", arch: amd64, shapes: map[string]shape{
		"large": {2, gib(5.25)}, "xlarge": {4, gib(10.5)}, "2xlarge": {8, gib(21)}, "4xlarge": {16, gib(42)},
		"9xlarge": {36, gib(96)}, "18xlarge": {72, gib(192)}, "metal": {72, gib(192)},
	}},
	{name: "c6a", arch: amd64, gibPerVCPU: 2, metalVCPUs: 192},
	{name: "c6g", arch: arm64, gibPerVCPU: 2, metalVCPUs: 64},
	{name: "c6gd", arch: arm64, gibPerVCPU: 2, metalVCPUs: 64},
	{name: "c6gn", arch: arm64, gibPerVCPU: 2},
	{name: "c6i", arch: amd64, gibPerVCPU: 2, metalVCPUs: 128},
	{name: "c6id", arch: amd64, gibPerVCPU: 2, metalVCPUs: 128},
	{name: "c6in", arch: amd64, gibPerVCPU: 2, metalVCPUs: 128},
	{name: "c7a", arch: amd64, gibPerVCPU: 2},
	{name: "c7g", arch: arm64, gibPerVCPU: 2, metalVCPUs: 64},
	{name: "c7gd", arch: arm64, gibPerVCPU: 2, metalVCPUs: 64},
	{name: "c7gn", arch: arm64, gibPerVCPU: 2, metalVCPUs: 64},
	{name: "c7i", arch: amd64, gibPerVCPU: 2},
	{name: "c7i-flex", arch: amd64, gibPerVCPU: 2},
	{name: "c8a", arch: amd64, gibPerVCPU: 2},
	{name: "c8g", arch: arm64, gibPerVCPU: 2},
	{name: "c8gd", arch: arm64, gibPerVCPU: 2},
	{name: "c8gn", arch: arm64, gibPerVCPU: 2},
	{name: "c8i", arch: amd64, gibPerVCPU: 2},
	{name: "c8i-flex", arch: amd64, gibPerVCPU: 2},

	// Memory optimized.
	{name: "r5", arch: amd64, gibPerVCPU: 8, metalVCPUs: 96},
	{name: "r5a", arch: amd64, gibPerVCPU: 8},
	{name: "r5ad", arch: amd64, gibPerVCPU: 8},
	{name: "r5b", arch: amd64, gibPerVCPU: 8, metalVCPUs: 96},
	{name: "r5d", arch: amd64, gibPerVCPU: 8, metalVCPUs: 96},
	{name: "r5dn", arch: amd64, gibPerVCPU: 8, metalVCPUs: 96},
	{name: "r5n", arch: amd64, gibPerVCPU: 8, metalVCPUs: 96},
	{name: "r6a", arch: amd64, gibPerVCPU: 8, metalVCPUs: 192},
	{name: "r6g", arch: arm64, gibPerVCPU: 8, metalVCPUs: 64},
	{name: "r6gd", arch: arm64, gibPerVCPU: 8, metalVCPUs: 64},
	{name: "r6i", arch: amd64, gibPerVCPU: 8, metalVCPUs: 128},
	{name: "r6id", arch: amd64, gibPerVCPU: 8, metalVCPUs: 128},
	{name: "r6idn", arch: amd64, gibPerVCPU: 8, metalVCPUs: 128},
	{name: "r6in", arch: amd64, gibPerVCPU: 8, metalVCPUs: 128},
	{name: "r7a", arch: amd64, gibPerVCPU: 8},
	{name: "r7g", arch: arm64, gibPerVCPU: 8, metalVCPUs: 64},
	{name: "r7gd", arch: arm64, gibPerVCPU: 8, metalVCPUs: 64},
	{name: "r7i", arch: amd64, gibPerVCPU: 8},
	{name: "r7iz", arch: amd64, gibPerVCPU: 8},
	{name: "r8a", arch: amd64, gibPerVCPU: 8},
	{name: "r8g", arch: arm64, gibPerVCPU: 8},
	{name: "r8gd", arch: arm64, gibPerVCPU: 8},
	{name: "r8gn", arch: arm64, gibPerVCPU: 8},
	{name: "r8i", arch: amd64, gibPerVCPU: 8},
	{name: "r8i-flex", arch: amd64, gibPerVCPU: 8},
	{name: "x2gd", arch: arm64, gibPerVCPU: 16, metalVCPUs: 64},
	{name: "x2idn", arch: amd64, gibPerVCPU: 16, metalVCPUs: 128},
	{name: "x2iedn", arch: amd64, gibPerVCPU: 32, metalVCPUs: 128},
	{name: "x2iezn", arch: amd64, gibPerVCPU: 32, metalVCPUs: 48},
	{name: "x8g", arch: arm64, gibPerVCPU: 16},
	{name: "z1d", arch: amd64, gibPerVCPU: 8, metalVCPUs: 48},

	// Storage optimized.
	{name: "d3", arch: amd64, gibPerVCPU: 8},
	{name: "d3en", arch: amd64, gibPerVCPU: 4},
	{name: "h1", arch: amd64, gibPerVCPU: 4},
	{name: "i3", arch: amd64, gibPerVCPU: 7.625},
	{name: "i3en", arch: amd64, gibPerVCPU: 8, metalVCPUs: 96},
	{name: "i4g", arch: arm64, gibPerVCPU: 8},
	{name: "i4i", arch: amd64, gibPerVCPU: 8, metalVCPUs: 128},
	{name: "i7i", arch: amd64, gibPerVCPU: 8},
	{name: "i7ie", arch: amd64, gibPerVCPU: 8},
	{name: "i8g", arch: arm64, gibPerVCPU: 8},
	{name: "i8ge", arch: arm64, gibPerVCPU: 8},
	{name: "im4gn", arch: arm64, gibPerVCPU: 4},
	{name: "is4gen", arch: arm64, gibPerVCPU: 6},

	// Accelerated computing.
	{name: "g4ad", arch: amd64, gibPerVCPU: 4, gpu: v520, gpus: map[string]int64{
		"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 2, "16xlarge": 4,
	}},
	{name: "g4dn", arch: amd64, gibPerVCPU: 4, metalVCPUs: 96, gpu: t4, gpus: map[string]int64{
		"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4, "metal": 8,
	}},
	{name: "g5", arch: amd64, gibPerVCPU: 4, gpu: a10g, gpus: oneGPUUpTo16xl},
	{name: "g5g", arch: arm64, gibPerVCPU: 2, metalVCPUs: 64, gpu: t4g, gpus: map[string]int64{
		"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 2, "metal": 2,
	}},
	{name: "g6", arch: amd64, gibPerVCPU: 4, gpu: l4, gpus: oneGPUUpTo16xl},
	{name: "g6e", arch: amd64, gibPerVCPU: 8, gpu: l40s, gpus: oneGPUUpTo16xl},
	{name: "p3", arch: amd64, gibPerVCPU: 7.625, gpu: v100, gpus: map[string]int64{"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}},
	{name: "p3dn", arch: amd64, gibPerVCPU: 8, gpu: v100x32, gpus: map[string]int64{"24xlarge": 8}},
	{name: "p4d", arch: amd64, gibPerVCPU: 12, gpu: a100, gpus: map[string]int64{"24xlarge": 8}},
	{name: "p4de", arch: amd64, gibPerVCPU: 12, gpu: a100x80, gpus: map[string]int64{"24xlarge": 8}},
	{name: "p5", arch: amd64, gpu: h100, gpus: map[string]int64{"4xlarge": 1, "48xlarge": 8}, shapes: map[string]shape{
		"4xlarge": {16, gib(256)}, "48xlarge": {192, gib(2048)},
	}},
	{name: "p5en", arch: amd64, gpu: h200, gpus: map[string]int64{"48xlarge": 8}, shapes: map[string]shape{
		"48xlarge": {192, gib(2048)},
	}},
	{name: "p6-b200", arch: amd64, gpu: b200, gpus: map[string]int64{"48xlarge": 8}, shapes: map[string]shape{
		"48xlarge": {192, gib(2048)},
	}},
}

// networkCards are the types with more than one network card, each with the interfaces of the default card (the
// catalogue's enis), as DescribeInstanceTypes reports them (NetworkInfo.NetworkCards; checked against the VPC limits
// Karpenter's AWS provider generates from that API). Every other type has one card.
var networkCards = map[string]int64{
	"c6in.32xlarge": 2, "c6in.metal": 2,
	"m6in.32xlarge": 2, "m6in.metal": 2, "m6idn.32xlarge": 2, "m6idn.metal": 2,
	"r6in.32xlarge": 2, "r6in.metal": 2, "r6idn.32xlarge": 2, "r6idn.metal": 2,
	"c8gn.48xlarge": 2, "c8gn.metal-48xl": 2, "r8gn.48xlarge": 2, "r8gn.metal-48xl": 2,
	"p4d.24xlarge": 4, "p4de.24xlarge": 4,
	"p5.48xlarge": 32, "p5en.48xlarge": 16, "p6-b200.48xlarge": 8,
}

// eniLimits factors a published max-pods value into the ENI count and IPv4 addresses per ENI behind it
// (max pods = enis × (ips − 1) + 2). The pairs are the EC2 limits of the sizes that carry them; see docs/catalog.md
// for which pairs are derived rather than read.
var eniLimits = map[int64][2]int64{
	4: {2, 2}, 8: {2, 4}, 10: {4, 3}, 11: {3, 4}, 17: {3, 6}, 18: {4, 5}, 29: {3, 10}, 35: {3, 12}, 38: {4, 10},
	58: {4, 15}, 59: {3, 20}, 78: {4, 20}, 89: {3, 30}, 100: {2, 50}, 118: {4, 30}, 158: {4, 40}, 176: {6, 30},
	198: {4, 50}, 234: {8, 30}, 292: {10, 30}, 314: {8, 40}, 345: {7, 50}, 350: {12, 30}, 392: {10, 40},
	394: {8, 50}, 437: {15, 30}, 492: {10, 50}, 590: {12, 50}, 737: {15, 50}, 758: {12, 64}, 786: {16, 50},
	1010: {16, 64}, 1178: {24, 50}, 1514: {24, 64},
}
