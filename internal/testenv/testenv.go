package testenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KWOKAnnotation is the annotation (with value "fake") that KWOK's fake kubelet looks for. It must be on a Node when
// the Node is created: KWOK ignores it when added later.
const KWOKAnnotation = "kwok.x-k8s.io/node"

// Options says which parts of the control plane to start. The zero value starts everything: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and KWOK.
type Options struct {
	// BinDir holds the binaries; default: $TAILOR_BIN_DIR, else bin/ at the root of this repository.
	BinDir string
	// CRDDirectoryPaths are folders of CustomResourceDefinition YAML applied once the API server is ready; Start
	// returns only when every CRD is Established.
	CRDDirectoryPaths []string
	// APIServerOnly starts etcd and kube-apiserver alone (enough for validation tests), skipping the
	// controller-manager, scheduler and KWOK.
	APIServerOnly bool
	// WithoutKWOK leaves KWOK out: Nodes stay NotReady and their pods Pending.
	WithoutKWOK bool
	// Logf, when set, receives progress lines (component started, readiness, timings).
	Logf func(format string, args ...any)
	// ComponentQPS, when set, is the client QPS of kube-controller-manager and kube-scheduler (burst twice it), for
	// runs of tens of thousands of pods; default: 100 for the controller-manager, the scheduler's own 50.
	ComponentQPS int
	// NodeLeaseSeconds, when set, is the duration of the Leases KWOK renews for its Nodes (it renews each a quarter of
	// that apart), and kube-controller-manager's node-monitor grace period with it; default: a kubelet's 40 s. At
	// thousands of nodes the default's renewals are hundreds of writes a second, which a one-machine control plane
	// pays for with the time it has for the pods.
	NodeLeaseSeconds int
	// LogDir keeps each component's stdout/stderr; default: inside the temporary directory, removed by Stop
	// unless the environment variable TAILOR_TESTENV_KEEP is set.
	LogDir string
}

// Environment is a running control plane. Stop it when done; it stops every process it started.
type Environment struct {
	// Config reaches the API server as a cluster admin (group system:masters).
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file with the same credentials, for kubectl and child processes.
	KubeconfigPath string
	// Dir is the temporary directory holding certificates, kubeconfigs, logs and (unless on tmpfs) etcd's data.
	Dir string
	// StartupTime is how long Start took.
	StartupTime time.Duration

	opts      Options
	procs     []*process
	etcdDir   string
	keepFiles bool
}

// Start brings up the control plane on 127.0.0.1 with free ports in a fresh temporary directory. On error,
// everything started so far is stopped.
func Start(ctx context.Context, opts Options) (env *Environment, err error) {
	begin := time.Now()
	if opts.BinDir == "" {
		opts.BinDir, err = DefaultBinDir()
		if err != nil {
			return nil, err
		}
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if err := checkBinaries(opts); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tailor-testenv-")
	if err != nil {
		return nil, fmt.Errorf("creating the control plane's directory: %w", err)
	}
	e := &Environment{Dir: dir, opts: opts, keepFiles: os.Getenv("TAILOR_TESTENV_KEEP") != ""}
	if e.opts.LogDir == "" {
		e.opts.LogDir = filepath.Join(dir, "logs")
	}
	defer func() {
		// e, not env: a failing return has set env to nil already, and nil's Stop stops nothing.
		if err != nil {
			err = errors.Join(err, e.Stop())
		}
	}()
	if err := os.MkdirAll(e.opts.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	e.StartupTime = time.Since(begin)
	opts.Logf("control plane ready in %s (kubeconfig %s)", e.StartupTime.Round(time.Millisecond), e.KubeconfigPath)
	return e, nil
}

func (e *Environment) start(ctx context.Context) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	creds, err := writeCredentials(e.Dir)
	if err != nil {
		return err
	}

	if err := e.startEtcd(ctx, etcdClient, etcdPeer); err != nil {
		return err
	}
	if err := e.startAPIServer(ctx, creds, etcdClient, apiPort); err != nil {
		return err
	}
	if err := e.applyCRDs(ctx); err != nil {
		return err
	}
	if e.opts.APIServerOnly {
		return nil
	}
	if err := e.startControllerManager(creds); err != nil {
		return err
	}
	if err := e.startScheduler(); err != nil {
		return err
	}
	if !e.opts.WithoutKWOK {
		if err := e.startKWOK(); err != nil {
			return err
		}
	}
	return e.waitForDefaultServiceAccount(ctx)
}

func (e *Environment) startEtcd(ctx context.Context, clientPort, peerPort int) error {
	e.etcdDir = filepath.Join(e.Dir, "etcd")
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		// tmpfs: no fsync cost, which is most of etcd's latency on a small disk.
		if d, err := os.MkdirTemp("/dev/shm", "tailor-etcd-"); err == nil {
			e.etcdDir = d
		}
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	p, err := e.run("etcd",
		"--name=tailor",
		"--data-dir="+e.etcdDir,
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=tailor="+peerURL,
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	return waitHTTP(ctx, p, clientURL+"/health", nil, 30*time.Second)
}

func (e *Environment) startAPIServer(ctx context.Context, creds *credentials, etcdPort, port int) error {
	certDir := filepath.Join(e.Dir, "apiserver-certs")
	p, err := e.run("kube-apiserver",
		"--etcd-servers=http://127.0.0.1:"+strconv.Itoa(etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+certDir,
		"--token-auth-file="+creds.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+creds.serviceAccountKey,
		"--service-account-signing-key-file="+creds.serviceAccountKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// A single API server on loopback: the endpoint reconciler refuses 127.0.0.1 as a public address.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	)
	if err != nil {
		return err
	}
	host := "https://127.0.0.1:" + strconv.Itoa(port)
	// The API server writes its self-signed serving certificate before it serves; it is the CA clients trust.
	caFile := filepath.Join(certDir, "apiserver.crt")
	if err := waitFile(ctx, p, caFile, 30*time.Second); err != nil {
		return err
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("reading the API server's certificate: %w", err)
	}
	e.Config = &rest.Config{
		Host:            host,
		BearerToken:     creds.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		QPS:             100,
		Burst:           200,
	}
	e.KubeconfigPath = filepath.Join(e.Dir, "kubeconfig")
	if err := writeKubeconfig(e.KubeconfigPath, host, ca, creds.adminToken); err != nil {
		return err
	}
	return waitHTTP(ctx, p, host+"/readyz", e.Config, 60*time.Second)
}

func (e *Environment) startControllerManager(creds *credentials) error {
	args := []string{
		"--kubeconfig=" + e.KubeconfigPath,
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file=" + creds.serviceAccountKey,
		"--root-ca-file=" + filepath.Join(e.Dir, "apiserver-certs", "apiserver.crt"),
		"--use-service-account-credentials=false",
		// The default 20 requests/s would feed a 500-pod Deployment to the scheduler over 25 seconds: a trickle, not
		// the burst the end-to-end tests mean.
		"--kube-api-qps=" + strconv.Itoa(e.qps(100)),
		"--kube-api-burst=" + strconv.Itoa(2*e.qps(100)),
		// What Tailor's tests rely on: workloads, garbage collection, namespaces, service accounts, PDB status
		// (for the Eviction API), and node lifecycle, which lifts node.kubernetes.io/not-ready from Ready Nodes.
		"--controllers=" + strings.Join([]string{
			"deployment-controller", "replicaset-controller", "statefulset-controller", "daemonset-controller",
			"job-controller", "garbage-collector-controller", "namespace-controller", "serviceaccount-controller",
			"serviceaccount-token-controller", "disruption-controller", "node-lifecycle-controller",
			"taint-eviction-controller", "pod-garbage-collector-controller",
		}, ","),
		"--v=1",
	}
	if e.opts.NodeLeaseSeconds > 0 {
		// A Node whose Lease was renewed within the grace period is alive.
		args = append(args, "--node-monitor-grace-period="+strconv.Itoa(e.opts.NodeLeaseSeconds)+"s")
	}
	_, err := e.run("kube-controller-manager", args...)
	return err
}

func (e *Environment) startScheduler() error {
	_, err := e.run("kube-scheduler",
		"--kubeconfig="+e.KubeconfigPath,
		"--leader-elect=false",
		"--secure-port=0",
		"--kube-api-qps="+strconv.Itoa(e.qps(50)),
		"--kube-api-burst="+strconv.Itoa(2*e.qps(50)),
		"--v=1",
	)
	return err
}

// qps is Options.ComponentQPS, else def.
func (e *Environment) qps(def int) int {
	if e.opts.ComponentQPS > 0 {
		return e.opts.ComponentQPS
	}
	return def
}

func (e *Environment) startKWOK() error {
	stages := filepath.Join(e.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, []byte(kwokStages()), 0o644); err != nil {
		return fmt.Errorf("writing KWOK's stages: %w", err)
	}
	_, err := e.run("kwok",
		"--kubeconfig="+e.KubeconfigPath,
		"--config="+stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KWOKAnnotation+"=fake",
		"--node-lease-duration-seconds="+strconv.Itoa(cmp.Or(e.opts.NodeLeaseSeconds, 40)),
		"--node-ip=127.0.0.1",
		"--cidr=10.244.0.0/16",
		"--server-address=127.0.0.1:0",
	)
	return err
}

// waitForDefaultServiceAccount returns once pods can be created in "default": the service account controller has
// made the namespace's default ServiceAccount, which the ServiceAccount admission plugin requires.
func (e *Environment) waitForDefaultServiceAccount(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("building a client: %w", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := e.checkAlive(); err != nil {
			return false, err
		}
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the default service account (is kube-controller-manager running? see %s): %w",
			e.opts.LogDir, err)
	}
	return nil
}

// Stop ends every process Start began (SIGTERM, then SIGKILL after a grace period) and removes the temporary files.
// It is safe to call more than once.
func (e *Environment) Stop() error {
	if e == nil {
		return nil
	}
	var errs []error
	// Reverse order: clients before the API server, the API server before etcd.
	for i := len(e.procs) - 1; i >= 0; i-- {
		if err := e.procs[i].stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	e.procs = nil
	// etcd's data outside the directory (on /dev/shm, which is memory: 0.6 GiB after a make scale run) goes even when
	// the files are kept; the logs and kubeconfig are what a kept run is for.
	if e.etcdDir != "" && !strings.HasPrefix(e.etcdDir, e.Dir+string(filepath.Separator)) {
		errs = append(errs, os.RemoveAll(e.etcdDir))
	}
	if !e.keepFiles {
		errs = append(errs, os.RemoveAll(e.Dir))
	}
	return errors.Join(errs...)
}

// CreateKWOKNode creates a Node that KWOK keeps Ready, with the given capacity (used as allocatable too) and labels.
func CreateKWOKNode(ctx context.Context, cs kubernetes.Interface, name string, capacity corev1.ResourceList, labels map[string]string) (*corev1.Node, error) {
	l := map[string]string{corev1.LabelHostname: name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"}
	for k, v := range labels {
		l[k] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      l,
			Annotations: map[string]string{KWOKAnnotation: "fake"},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	created, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating node %s: %w", name, err)
	}
	return created, nil
}

func freePorts(n int) ([]int, error) {
	// Hold every listener until all ports are chosen, so the same port is not handed out twice.
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeKubeconfig(path, host string, ca []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["tailor-test"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["tailor-test"] = &clientcmdapi.Context{Cluster: "tailor-test", AuthInfo: "admin"}
	cfg.CurrentContext = "tailor-test"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}
