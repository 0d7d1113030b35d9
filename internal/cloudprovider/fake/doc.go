// Package fake is an in-memory cloudprovider.CloudProvider for narrow unit tests: it "launches" the cheapest
// matching offering of the instance types it was given, keeps machines in a map, records calls and returns errors a
// test queues up. It talks to nothing.
package fake
