// Package iampolicy holds the IAM policy Tailor's controller needs on AWS, the one docs/aws-iam.md shows and
// ec2sim enforces, so the documented policy and the tested one cannot drift apart.
package iampolicy

import (
	_ "embed"
	"strings"
)

// Controller is the controller's policy document with its placeholders (<cluster>, <region>, <account>, <queue>,
// <node-role>) in place, byte for byte the JSON block of docs/aws-iam.md.
//
//go:embed controller-policy.json
var Controller []byte

// Values fill the placeholders of a policy document.
type Values struct {
	Cluster, Region, Account, Queue, NodeRole string
}

// Substitute returns doc with every placeholder replaced by its value, as docs/getting-started-eks.md does with sed.
func Substitute(doc []byte, v Values) []byte {
	r := strings.NewReplacer("<cluster>", v.Cluster, "<region>", v.Region, "<account>", v.Account,
		"<queue>", v.Queue, "<node-role>", v.NodeRole)
	return []byte(r.Replace(string(doc)))
}
