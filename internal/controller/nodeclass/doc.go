// Package nodeclass keeps each EC2NodeClass's status resolved: its subnet, security group and AMI selectors and its
// instance profile are looked up in the cloud and written to status with their conditions, so NodePools only launch
// with a node class that resolves.
package nodeclass
