// Package capacitybuffer writes CapacityBuffer status: how many chunks the buffer resolved to (from its replicas,
// percentage of a workload and limits), what they were made from, and a Ready condition saying why not when a
// reference is missing. Planning the buffer's room is the provisioner's (state.ReadBuffers gives both the same
// resolution); keeping it is the disruption controller's.
package capacitybuffer
