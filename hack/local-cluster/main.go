// Command local-cluster starts Tailor's loopback control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, KWOK) with Tailor's CRDs, prints how to reach it, and runs until interrupted.
//
//	go run ./hack/local-cluster [--kubeconfig-out FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tailor-sh/tailor/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	kubeconfigOut := flag.String("kubeconfig-out", "", "also copy the kubeconfig to this path")
	withoutCRDs := flag.Bool("without-crds", false, "do not install Tailor's CRDs from config/crd")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := testenv.Options{Logf: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}}
	if !*withoutCRDs {
		root, err := testenv.RepoRoot()
		if err != nil {
			return err
		}
		crds := filepath.Join(root, "config", "crd")
		if entries, err := os.ReadDir(crds); err == nil && len(entries) > 0 {
			opts.CRDDirectoryPaths = []string{crds}
		}
	}
	env, err := testenv.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping:", err)
		}
	}()
	path := env.KubeconfigPath
	if *kubeconfigOut != "" {
		b, err := os.ReadFile(env.KubeconfigPath)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*kubeconfigOut, b, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", *kubeconfigOut, err)
		}
		path = *kubeconfigOut
	}
	fmt.Printf("control plane ready in %s\nexport KUBECONFIG=%s\npress Ctrl-C to stop\n", env.StartupTime.Round(1e6), path)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping the control plane")
	return nil
}
