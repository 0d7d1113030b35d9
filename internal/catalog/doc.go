// Package catalog holds Tailor's embedded cloud instance catalogues and reads custom ones.
//
// A catalogue is a list of instance types, each with its shape (vCPUs, memory, max pods, arch, GPUs), its
// descriptive attributes (family, category, generation, size) and its offerings (zone × capacity type → price). The
// embedded catalogues live in data/ (one JSON file per name, for example "aws-us-east-1") and are produced by
// hack/gen-catalog from published AWS figures; docs/catalog.md documents the schema and the sources.
//
// Load reads an embedded catalogue by name, Parse and LoadFile read one from JSON (the embedded document form or a
// bare array of instance types), and Catalog.ToInstanceTypes turns the entries into cloudprovider.InstanceType
// values with labels, capacity and the node overhead (kube-reserved by the EKS formula, eviction threshold)
// filled in. The simulator, ec2sim, the CLI and tests all read the same catalogue through this package.
package catalog
