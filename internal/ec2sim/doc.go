// Package ec2sim is a simulated AWS region on 127.0.0.1. It speaks the wire protocols the real aws-sdk-go-v2
// clients use — the EC2 Query protocol, the JSON protocols of SSM, SQS and the Pricing API — so Tailor's production
// AWS code is what tests and the demo exercise, without reaching AWS.
//
// The package has four parts:
//
//   - the Cloud (cloud.go, fleet.go, lifecycle.go): the simulated region — zones, subnets, security groups, images,
//     launch templates, capacity pools and instances — driven by an injected clock and a seeded random source, so
//     the same seed and the same calls give the same instance IDs, addresses and placements;
//   - the protocol front ends (server.go, ec2api.go, jsonapi.go): request authentication (a SigV4 Authorization
//     header must be present and well formed), routing by Action or X-Amz-Target, fault injection (throttling,
//     5xx, added latency) and AWS's own error shapes;
//   - the admin API (admin.go): JSON on /admin/… for tests — interrupt a spot instance, change capacity, inject
//     faults, list instances;
//   - Node registration (nodes.go, userdata.go): when an instance has booted, a Node is created through client-go
//     as the kubelet would, with the labels, taints and reservations the launch template's user data asks for and
//     the KWOK annotation so KWOK keeps it Ready; when the instance shuts down its kubelet stops and the pods still
//     running there fail (kubelet.go: reclaim), and when it is terminated the Node and those pods are deleted.
//
// docs/ec2sim.md describes the behaviour for users.
package ec2sim
