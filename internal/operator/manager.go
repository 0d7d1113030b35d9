package operator

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// LeaderElectionID is the name of the Lease the replicas elect a leader on (the Helm chart's Role names it).
const LeaderElectionID = "tailor-leader-election"

// NewScheme is the scheme every Tailor client uses: the Kubernetes kinds Tailor reads and Tailor's own.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, storagev1.AddToScheme, apiv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}

// NewLogger is a JSON logger at the options' level.
func NewLogger(level string) logr.Logger {
	lvl := zapcore.InfoLevel
	switch level {
	case "debug":
		lvl = zapcore.DebugLevel
	case "error":
		lvl = zapcore.ErrorLevel
	}
	return zap.New(zap.Level(lvl), zap.JSONEncoder(func(c *zapcore.EncoderConfig) {
		c.TimeKey = "time"
		c.EncodeTime = zapcore.ISO8601TimeEncoder
		c.MessageKey = "message"
	}))
}

// RESTConfig loads --kubeconfig, else the in-cluster configuration, else $KUBECONFIG.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("no Kubernetes configuration (not in a cluster, no --kubeconfig, no $KUBECONFIG): %w", err)
	}
	return cfg, nil
}

// NewManager builds the controller-runtime manager: leader election on a Lease, /healthz and /readyz, metrics.
func NewManager(cfg *rest.Config, o *Options, log logr.Logger) (manager.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "tailor-controller"
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 200, 300
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        log,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 positive(o.LeaseDuration),
		RenewDeadline:                 positive(o.RenewDeadline),
		RetryPeriod:                   positive(o.RetryPeriod),
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:        o.HealthProbeBindAddress,
		PprofBindAddress:              pprofAddress(o.PprofBindAddress),
		// The informers keep only what Tailor reads: no managedFields anywhere, and pods and nodes stripped further
		// (stripForCache). Updates from the cache leave managedFields alone (nil means unchanged to the API server).
		Cache: cache.Options{DefaultTransform: stripForCache()},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	// Ready once the caches have synced: a replica that cannot see the cluster should not receive traffic.
	if err := mgr.AddReadyzCheck("informers", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("informers not synced")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return mgr, nil
}

// pprofAddress is the manager's pprof address: "" (off) for "0".
func pprofAddress(addr string) string {
	if addr == "0" {
		return ""
	}
	return addr
}

// positive is d when it is set, else nil (controller-runtime's default).
func positive(d time.Duration) *time.Duration {
	if d <= 0 {
		return nil
	}
	return &d
}
