// Command demo runs Tailor's reference scenario on a local control plane, offline, and narrates it: a real
// kube-apiserver, kube-controller-manager and kube-scheduler, KWOK for kubelets, ec2sim for AWS, and Tailor's
// controller built from this repository.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

var begin = time.Now()

func say(format string, args ...any) {
	fmt.Printf("[%6.1fs] %s\n", time.Since(begin).Seconds(), fmt.Sprintf(format, args...))
}

func detail(format string, args ...any) { fmt.Printf("          %s\n", fmt.Sprintf(format, args...)) }

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	say("building tailor and ec2sim from this repository")
	bin, err := os.MkdirTemp("", "tailor-demo-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	if err := testenv.BuildTailor(ctx, bin); err != nil {
		return err
	}
	say("starting a local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK")
	crds, err := testenv.CRDPath()
	if err != nil {
		return err
	}
	env, err := testenv.Start(ctx, testenv.Options{CRDDirectoryPaths: []string{crds}})
	if err != nil {
		return err
	}
	defer func() {
		say("stopping everything the demo started")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping:", err)
		}
	}()
	say("control plane ready in %s", env.StartupTime.Round(time.Millisecond))

	say("starting ec2sim (a simulated AWS region on 127.0.0.1) and tailor controller")
	stack, err := env.StartStack(ctx, testenv.StackOptions{BinDir: bin, ClusterName: "demo-cluster"})
	if err != nil {
		return err
	}
	detail("ec2sim at %s; controller log %s", stack.EC2Endpoint, stack.Controller.LogPath())
	d, err := newDemo(env, stack)
	if err != nil {
		return err
	}
	return d.scenario(ctx)
}

type demo struct {
	kube  client.Client
	cs    kubernetes.Interface
	stack *testenv.Stack
	env   *testenv.Environment
}

func newDemo(env *testenv.Environment, stack *testenv.Stack) (*demo, error) {
	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	kube, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return nil, err
	}
	return &demo{kube: kube, cs: cs, stack: stack, env: env}, nil
}

func (d *demo) scenario(ctx context.Context) error {
	go d.followLog(ctx)
	if err := d.apply(ctx); err != nil {
		return err
	}
	const ns = metav1.NamespaceDefault
	say("deploying inflate: pause image, 1 CPU request, 0 replicas")
	if _, err := d.cs.AppsV1().Deployments(ns).Create(ctx, testenv.Inflate(ns, 0), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating inflate: %w", err)
	}
	say("kubectl scale deployment inflate --replicas 4")
	scaled := time.Now()
	if err := d.scale(ctx, ns, 4); err != nil {
		return err
	}
	if err := d.waitPods(ctx, ns, func(pods []corev1.Pod) bool {
		return len(pods) == 4 && every(pods, func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	}); err != nil {
		return fmt.Errorf("waiting for 4 running pods: %w", err)
	}
	say("4 pods Running %s after the scale", time.Since(scaled).Round(100*time.Millisecond))
	if err := d.show(ctx, ns); err != nil {
		return err
	}

	say("kubectl scale deployment inflate --replicas 0")
	if err := d.scale(ctx, ns, 0); err != nil {
		return err
	}
	if err := d.waitPods(ctx, ns, func(pods []corev1.Pod) bool { return len(pods) == 0 }); err != nil {
		return err
	}
	emptied := time.Now()
	say("all pods gone; the NodePool's consolidateAfter is 30s, so Tailor waits that long before removing the node")
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		nodes := &corev1.NodeList{}
		if err := d.kube.List(ctx, nodes); err != nil {
			return false, err
		}
		claims := &apiv1.NodeClaimList{}
		if err := d.kube.List(ctx, claims); err != nil {
			return false, err
		}
		return len(nodes.Items) == 0 && len(claims.Items) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the empty node to go: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // let the log follower print the last lines
	say("node and nodeclaim deleted %s after the last pod left; instance terminated in ec2sim", time.Since(emptied).Round(100*time.Millisecond))
	say("done: the reference scenario ran offline end to end")
	return nil
}

// apply creates the reference NodePool and EC2NodeClass from examples/reference.yaml.
func (d *demo) apply(ctx context.Context) error {
	say("kubectl apply -f examples/reference.yaml: NodePool default (spot only, cpu limit 1000, consolidateAfter 30s) and EC2NodeClass default")
	_, err := testenv.ApplyExample(ctx, d.kube, "reference.yaml")
	return err
}

func (d *demo) scale(ctx context.Context, ns string, replicas int32) error {
	// The deployment controller updates the object too; retry on conflict as kubectl scale does.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := d.cs.AppsV1().Deployments(ns).GetScale(ctx, "inflate", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Replicas = replicas
		_, err = d.cs.AppsV1().Deployments(ns).UpdateScale(ctx, "inflate", s, metav1.UpdateOptions{})
		return err
	})
}

func (d *demo) waitPods(ctx context.Context, ns string, ok func([]corev1.Pod) bool) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := d.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=inflate"})
		if err != nil {
			return false, err
		}
		return ok(pods.Items), nil
	})
}

// show prints what kubectl get nodeclaims / nodes / pods would, with the price ec2sim charges.
func (d *demo) show(ctx context.Context, ns string) error {
	claims := &apiv1.NodeClaimList{}
	if err := d.kube.List(ctx, claims); err != nil {
		return err
	}
	say("kubectl get nodeclaims")
	detail("%-16s %-12s %-10s %-12s %-28s %s", "NAME", "TYPE", "CAPACITY", "ZONE", "NODE", "PRICE")
	for _, nc := range claims.Items {
		detail("%-16s %-12s %-10s %-12s %-28s %s", nc.Name, nc.Labels[apiv1.InstanceTypeLabelKey], nc.Labels[apiv1.CapacityTypeLabelKey],
			nc.Labels[apiv1.ZoneLabelKey], nc.Status.NodeName, d.price(ctx, &nc))
	}
	pods, err := d.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=inflate"})
	if err != nil {
		return err
	}
	say("kubectl get pods -o wide")
	for _, p := range pods.Items {
		detail("%-32s %-8s %s", p.Name, p.Status.Phase, p.Spec.NodeName)
	}
	return nil
}

// price is the offering's hourly price as the provider saw it, from the NodeClaim's launch event in the log.
func (d *demo) price(ctx context.Context, nc *apiv1.NodeClaim) string {
	b, err := os.ReadFile(d.stack.Controller.LogPath())
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["message"] != "launched nodeclaim" {
			continue
		}
		if n, ok := entry["nodeclaim"].(map[string]any); ok && n["name"] == nc.Name {
			return fmt.Sprintf("$%v/h", entry["price"])
		}
	}
	_ = ctx
	return "?"
}

// storyLines are the controller's log messages the demo shows, with the fields worth reading.
var storyLines = map[string][]string{
	"resolved ec2nodeclass":                        {"ready", "subnets", "securityGroups", "amis"},
	"found provisionable pod(s)":                   {"pods"},
	"computed new nodeclaim(s) to fit pod(s)":      {"nodeclaims", "pods", "pricePerHour", "duration"},
	"launched nodeclaim":                           {"instance-type", "zone", "capacity-type", "price", "provider-id"},
	"registered nodeclaim":                         {"node"},
	"initialized nodeclaim":                        {"node"},
	"marked node empty":                            {"node", "consolidateAfter"},
	"disrupting node(s) via delete, reason: empty": {"nodes"},
	"cordoned node":                                {"node"},
	"deleted node":                                 {"node"},
	"terminated instance":                          {"provider-id"},
	"deleted nodeclaim":                            {"nodeclaim"},
}

// followLog prints the controller's story lines as they are written.
func (d *demo) followLog(ctx context.Context) {
	f, err := os.Open(d.stack.Controller.LogPath())
	if err != nil {
		return
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial string
	for ctx.Err() == nil {
		line, err := r.ReadString('\n')
		partial += line
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		printStory(partial)
		partial = ""
	}
}

func printStory(line string) {
	var entry map[string]any
	if json.Unmarshal([]byte(line), &entry) != nil {
		return
	}
	msg, _ := entry["message"].(string)
	fields, ok := storyLines[msg]
	if !ok {
		return
	}
	var parts []string
	for _, f := range fields {
		if v, ok := entry[f]; ok {
			if m, ok := v.(map[string]any); ok {
				v = m["name"]
			}
			parts = append(parts, fmt.Sprintf("%s=%v", f, v))
		}
	}
	fmt.Printf("          tailor: %s  %s\n", msg, strings.Join(parts, " "))
}

func every(pods []corev1.Pod, f func(corev1.Pod) bool) bool {
	for _, p := range pods {
		if !f(p) {
			return false
		}
	}
	return true
}
