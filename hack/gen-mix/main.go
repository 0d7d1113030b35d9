// Command gen-mix writes the diverse benchmark mix of docs/performance.md as Deployments for `tailor simulate`.
//
// Usage, from the repository root:
//
//	go run ./hack/gen-mix -mix diverse -pods 50000 -out /tmp/diverse-50k.yaml
//	tailor simulate -f /tmp/diverse-50k.yaml
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tailor-sh/tailor/internal/benchmix"
)

func main() {
	mix := flag.String("mix", benchmix.MixDiverse, "the mix: diverse (required constraints) or diverse-preferred (the same, soft)")
	pods := flag.Int("pods", 50000, "how many pods")
	out := flag.String("out", "", "file to write (default: standard output)")
	flag.Parse()
	if err := run(*mix, *pods, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-mix:", err)
		os.Exit(1)
	}
}

func run(mix string, pods int, out string) error {
	deps, err := benchmix.Generate(mix, pods)
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	if err := benchmix.WriteYAML(bw, deps); err != nil {
		return err
	}
	return bw.Flush()
}
