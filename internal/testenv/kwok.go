package testenv

import (
	"strings"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodeheartbeat "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

// kubeletStoppedAnnotation is ec2sim's KubeletStoppedAnnotation: a Node carrying it has a stopped kubelet, and
// KWOK's node stages must not make it Ready again.
const kubeletStoppedAnnotation = "ec2sim.tailor.sh/kubelet-stopped"

// unlessKubeletStopped adds to a node Stage's selector that the Node does not carry kubeletStoppedAnnotation.
func unlessKubeletStopped(stage string) string {
	const at = "  selector:\n    matchExpressions:\n"
	if !strings.Contains(stage, at) {
		panic("testenv: KWOK node stage without a matchExpressions selector")
	}
	return strings.Replace(stage, at, at+"    - key: '.metadata.annotations[\""+kubeletStoppedAnnotation+"\"]'\n      operator: 'DoesNotExist'\n", 1)
}

// kwokStages is KWOK's own default behaviour, which the standalone binary does not load by itself ("no stages
// found"): nodes become Ready at once and renew a Lease; pods become Running at once, complete when their
// containers are jobs, and go away when deleted.
func kwokStages() string {
	return strings.Join([]string{
		unlessKubeletStopped(nodefast.DefaultNodeInit),
		unlessKubeletStopped(nodeheartbeat.DefaultNodeHeartbeatWithLease),
		podfast.DefaultPodReady,
		podfast.DefaultPodComplete,
		podfast.DefaultPodDelete,
	}, "\n---\n")
}
