// Package aws is Tailor's cloud provider for Amazon EC2, on aws-sdk-go-v2.
//
// Every AWS call goes through the narrow interfaces of sdk.go, which list only the calls made; the real SDK clients
// satisfy them (NewClients builds them from the SDK's default credential chain, with an endpoint override for
// ec2sim and the SDK's standard retryer, which backs off on throttling). Unit tests use small fakes of those
// interfaces; integration tests run the real clients against ec2sim on 127.0.0.1.
//
// The pieces:
//   - nodeclass.go resolves an EC2NodeClass's subnets, security groups, AMIs and instance profile into its status;
//   - instancetypes.go, pricing.go and unavailable.go turn DescribeInstanceTypes, DescribeInstanceTypeOfferings,
//     spot price history and on-demand prices into cloudprovider.InstanceTypes, cached, with offerings marked out
//     for a while after EC2 reported no capacity;
//   - launchtemplate.go, userdata.go and create.go launch a NodeClaim with CreateFleet;
//   - instances.go gets, lists, terminates and checks drift of the instances this cluster owns;
//   - interruption.go reads EventBridge events about instances from an SQS queue.
//
// docs/aws.md describes the behaviour (calls, tags, caches, IAM) for users.
package aws
