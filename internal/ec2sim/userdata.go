package ec2sim

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// nodeSettings are what a launch template's user data asks of the kubelet.
type nodeSettings struct {
	Labels         map[string]string
	Taints         []corev1.Taint
	MaxPods        int64
	KubeReserved   map[string]string
	SystemReserved map[string]string
	// EvictionHard maps a signal (memory.available, nodefs.available) to a quantity or a percentage.
	EvictionHard map[string]string
	// APIServer and CA are the API server URL and base64 PEM CA the node would join with, when the user data
	// names them.
	APIServer string
	CA        string
}

// checkJoin tells whether a node with these settings could join the simulated EKS cluster: when both name an API
// server (or a CA), they must be the same, as a kubelet told another endpoint or CA never registers.
func (s *nodeSettings) checkJoin(eks EKSClusterConfig) error {
	if s.APIServer != "" && eks.Endpoint != "" && s.APIServer != eks.Endpoint {
		return fmt.Errorf("the user data joins API server %s, the cluster's is %s", s.APIServer, eks.Endpoint)
	}
	if s.CA != "" && eks.CertificateAuthority != "" && s.CA != eks.CertificateAuthority {
		return fmt.Errorf("the user data's cluster CA is not the cluster's")
	}
	return nil
}

// reserves reports whether the user data sets any reservation; if not, the AMI's own defaults apply.
func (s *nodeSettings) reserves() bool {
	return len(s.KubeReserved) > 0 || len(s.SystemReserved) > 0 || len(s.EvictionHard) > 0
}

// parseUserData reads the node settings from launch template user data (base64, as the API carries it). It
// understands the formats Tailor's AWS provider writes:
//
//   - a MIME multi-part document whose application/node.eks.aws parts are AL2023 NodeConfig YAML and whose
//     text/x-shellscript parts may call /etc/eks/bootstrap.sh;
//   - a bare NodeConfig YAML document;
//   - a shell script calling /etc/eks/bootstrap.sh with --kubelet-extra-args;
//   - Bottlerocket TOML settings ([settings.kubernetes] max-pods, node-labels, node-taints, kube-reserved,
//     system-reserved, eviction-hard).
//
// From NodeConfig it takes spec.kubelet.config (maxPods, kubeReserved, systemReserved, evictionHard,
// registerWithTaints) and spec.kubelet.flags; from kubelet flags --node-labels, --register-with-taints, --max-pods,
// --kube-reserved, --system-reserved and --eviction-hard. Anything else is ignored.
func parseUserData(encoded string) (nodeSettings, error) {
	s := nodeSettings{Labels: map[string]string{}}
	if encoded == "" {
		return s, nil
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		raw = []byte(encoded)
	}
	text := string(raw)
	trimmed := strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(trimmed, "MIME-Version") || strings.HasPrefix(trimmed, "Content-Type"):
		err = s.parseMIME(trimmed)
	case strings.HasPrefix(trimmed, "#!"):
		err = s.parseShell(trimmed)
	case strings.Contains(trimmed, "node.eks.aws/"):
		err = s.parseNodeConfig(trimmed)
	case strings.Contains(trimmed, "[settings"):
		err = s.parseBottlerocket(trimmed)
	}
	return s, err
}

func (s *nodeSettings) parseMIME(text string) error {
	msg, err := mail.ReadMessage(strings.NewReader(strings.ReplaceAll(text, "\r\n", "\n")))
	if err != nil {
		return fmt.Errorf("reading MIME user data: %w", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("reading MIME user data Content-Type: %w", err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		body, err := io.ReadAll(msg.Body)
		if err != nil {
			return fmt.Errorf("reading MIME user data: %w", err)
		}
		return s.parsePart(mediaType, msg.Header.Get("Content-Transfer-Encoding"), body)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading MIME user data part: %w", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			return fmt.Errorf("reading MIME user data part: %w", err)
		}
		partType, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err := s.parsePart(partType, part.Header.Get("Content-Transfer-Encoding"), body); err != nil {
			return err
		}
	}
}

func (s *nodeSettings) parsePart(mediaType, encoding string, body []byte) error {
	if strings.EqualFold(encoding, "base64") {
		decoded, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(body), nil)))
		if err != nil {
			return fmt.Errorf("decoding base64 MIME part: %w", err)
		}
		body = decoded
	}
	switch mediaType {
	case "application/node.eks.aws":
		return s.parseNodeConfig(string(body))
	case "text/x-shellscript":
		return s.parseShell(string(body))
	}
	return nil
}

// nodeConfig is the part of AL2023's NodeConfig (node.eks.aws/v1alpha1) that shapes the Node.
type nodeConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Cluster struct {
			APIServerEndpoint    string `json:"apiServerEndpoint"`
			CertificateAuthority string `json:"certificateAuthority"`
		} `json:"cluster"`
		Kubelet struct {
			Config struct {
				MaxPods            int64             `json:"maxPods"`
				KubeReserved       map[string]string `json:"kubeReserved"`
				SystemReserved     map[string]string `json:"systemReserved"`
				EvictionHard       map[string]string `json:"evictionHard"`
				RegisterWithTaints []corev1.Taint    `json:"registerWithTaints"`
			} `json:"config"`
			Flags []string `json:"flags"`
		} `json:"kubelet"`
	} `json:"spec"`
}

func (s *nodeSettings) parseNodeConfig(text string) error {
	for _, doc := range splitYAMLDocuments(text) {
		var nc nodeConfig
		if err := yaml.Unmarshal([]byte(doc), &nc); err != nil {
			return fmt.Errorf("reading NodeConfig user data: %w", err)
		}
		if nc.Kind != "NodeConfig" {
			continue
		}
		// nodeadm merges NodeConfigs in order: a later one's fields win.
		s.APIServer = cmp.Or(nc.Spec.Cluster.APIServerEndpoint, s.APIServer)
		s.CA = cmp.Or(nc.Spec.Cluster.CertificateAuthority, s.CA)
		k := nc.Spec.Kubelet
		if k.Config.MaxPods > 0 {
			s.MaxPods = k.Config.MaxPods
		}
		s.KubeReserved = mergeTags(s.KubeReserved, k.Config.KubeReserved)
		s.SystemReserved = mergeTags(s.SystemReserved, k.Config.SystemReserved)
		s.EvictionHard = mergeTags(s.EvictionHard, k.Config.EvictionHard)
		for _, t := range k.Config.RegisterWithTaints {
			if err := validTaint(t); err != nil {
				return fmt.Errorf("NodeConfig spec.kubelet.config.registerWithTaints: %w", err)
			}
			s.Taints = append(s.Taints, t)
		}
		// nodeadm hands the flags to the kubelet through a shell-like environment file, so quotes around values
		// (--node-labels="a=b,c=d") are stripped.
		var flags []string
		for _, f := range k.Flags {
			words, err := shellWords(f)
			if err != nil {
				return fmt.Errorf("NodeConfig spec.kubelet.flags %q: %w", f, err)
			}
			flags = append(flags, strings.Join(words, " "))
		}
		if err := s.parseFlags(flags); err != nil {
			return fmt.Errorf("NodeConfig spec.kubelet.flags: %w", err)
		}
	}
	return nil
}

func splitYAMLDocuments(text string) []string {
	var docs []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(sc.Text())
		cur.WriteByte('\n')
	}
	return append(docs, cur.String())
}

// parseShell finds the bootstrap.sh call of a shell script and reads its --kubelet-extra-args.
func (s *nodeSettings) parseShell(script string) error {
	words, err := shellWords(script)
	if err != nil {
		return fmt.Errorf("reading shell user data: %w", err)
	}
	for i := 0; i < len(words); i++ {
		if !strings.HasSuffix(words[i], "bootstrap.sh") {
			continue
		}
		for j := i + 1; j < len(words) && words[j] != "\n"; j++ {
			arg := words[j]
			var extra string
			switch {
			case arg == "--apiserver-endpoint" && j+1 < len(words):
				s.APIServer = words[j+1]
				j++
				continue
			case arg == "--b64-cluster-ca" && j+1 < len(words):
				s.CA = words[j+1]
				j++
				continue
			case arg == "--kubelet-extra-args" && j+1 < len(words):
				extra = words[j+1]
				j++
			case strings.HasPrefix(arg, "--kubelet-extra-args="):
				extra = strings.TrimPrefix(arg, "--kubelet-extra-args=")
			default:
				continue
			}
			flags, err := shellWords(extra)
			if err != nil {
				return fmt.Errorf("reading --kubelet-extra-args: %w", err)
			}
			if err := s.parseFlags(flags); err != nil {
				return fmt.Errorf("--kubelet-extra-args: %w", err)
			}
		}
	}
	return nil
}

// shellWords splits shell text into words the way sh would for simple commands: quotes group, backslashes
// escape, a backslash-newline continues the line, and an unescaped newline, ; or && ends a command (returned as
// the word "\n"). Comments run to the end of the line.
func shellWords(text string) ([]string, error) {
	w := &wordSplitter{r: []rune(text)}
	for w.i = 0; w.i < len(w.r); w.i++ {
		if err := w.step(); err != nil {
			return nil, err
		}
	}
	w.flush()
	return w.words, nil
}

type wordSplitter struct {
	r      []rune
	i      int
	words  []string
	cur    strings.Builder
	inWord bool
}

func (w *wordSplitter) flush() {
	if w.inWord {
		w.words = append(w.words, w.cur.String())
		w.cur.Reset()
		w.inWord = false
	}
}

func (w *wordSplitter) endCommand() {
	w.flush()
	w.words = append(w.words, "\n")
}

// step consumes the rune at w.i (and any it implies), leaving w.i on the last rune consumed.
func (w *wordSplitter) step() error {
	r, ch := w.r, w.r[w.i]
	switch {
	case ch == '\\' && w.i+1 < len(r):
		w.i++
		if r[w.i] != '\n' {
			w.cur.WriteRune(r[w.i])
			w.inWord = true
		}
	case ch == '\'':
		return w.quoted('\'', "")
	case ch == '"':
		return w.quoted('"', "\"\\$`\n")
	case ch == '#' && !w.inWord:
		for w.i+1 < len(r) && r[w.i+1] != '\n' {
			w.i++
		}
	case ch == '\n' || ch == ';':
		w.endCommand()
	case ch == '&' && w.i+1 < len(r) && r[w.i+1] == '&':
		w.i++
		w.endCommand()
	case ch == ' ' || ch == '\t' || ch == '\r':
		w.flush()
	default:
		w.cur.WriteRune(ch)
		w.inWord = true
	}
	return nil
}

// quoted consumes a quoted string; inside it a backslash escapes only the runes in escapable.
func (w *wordSplitter) quoted(quote rune, escapable string) error {
	j := w.i + 1
	for ; j < len(w.r) && w.r[j] != quote; j++ {
		if w.r[j] == '\\' && j+1 < len(w.r) && strings.ContainsRune(escapable, w.r[j+1]) {
			j++
		}
		w.cur.WriteRune(w.r[j])
	}
	if j >= len(w.r) {
		if quote == '\'' {
			return fmt.Errorf("unterminated single quote")
		}
		return fmt.Errorf("unterminated double quote")
	}
	w.i = j
	w.inWord = true
	return nil
}

// parseBottlerocket reads the settings.kubernetes tables of Bottlerocket's TOML user data with a real TOML
// parser, so a document Bottlerocket would refuse (a table defined twice, a syntax error) fails here too.
func (s *nodeSettings) parseBottlerocket(text string) error {
	var doc map[string]any
	if err := toml.Unmarshal([]byte(text), &doc); err != nil {
		return fmt.Errorf("bottlerocket settings: %w", err)
	}
	settings, _ := doc["settings"].(map[string]any)
	k8s, _ := settings["kubernetes"].(map[string]any)
	s.APIServer, _ = k8s["api-server"].(string)
	s.CA, _ = k8s["cluster-certificate"].(string)
	if v, ok := k8s["max-pods"]; ok {
		if err := s.applyFlag("--max-pods", fmt.Sprint(v)); err != nil {
			return fmt.Errorf("bottlerocket settings: settings.kubernetes.max-pods: %w", err)
		}
	}
	for _, table := range []string{"node-labels", "node-taints", "kube-reserved", "system-reserved", "eviction-hard"} {
		raw, ok := k8s[table]
		if !ok {
			continue
		}
		t, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("bottlerocket settings: settings.kubernetes.%s must be a table", table)
		}
		for _, key := range sortedKeys(t) {
			values, err := tomlStrings(t[key])
			if err != nil {
				return fmt.Errorf("bottlerocket settings: settings.kubernetes.%s.%s: %w", table, key, err)
			}
			if err := s.applyBottlerocket("settings.kubernetes."+table, key, values); err != nil {
				return fmt.Errorf("bottlerocket settings: settings.kubernetes.%s.%s: %w", table, key, err)
			}
		}
	}
	return nil
}

func (s *nodeSettings) applyBottlerocket(section, key string, values []string) error {
	first := ""
	if len(values) > 0 {
		first = values[0]
	}
	set := func(m *map[string]string) {
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[key] = first
	}
	switch section {
	case "settings.kubernetes.node-labels":
		s.Labels[key] = first
	case "settings.kubernetes.node-taints":
		for _, v := range values {
			t, err := parseTaint(key + "=" + v)
			if err != nil {
				return err
			}
			s.Taints = append(s.Taints, t)
		}
	case "settings.kubernetes.kube-reserved":
		set(&s.KubeReserved)
	case "settings.kubernetes.system-reserved":
		set(&s.SystemReserved)
	case "settings.kubernetes.eviction-hard":
		set(&s.EvictionHard)
	}
	return nil
}

// tomlStrings reads a TOML value Bottlerocket's kubernetes tables hold: a string or an array of strings.
func tomlStrings(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			str, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("array items must be strings, not %T", item)
			}
			out = append(out, str)
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a string or an array of strings, not %T", v)
}

// parseFlags reads the kubelet flags that shape the Node, as --flag=value or --flag value.
func (s *nodeSettings) parseFlags(flags []string) error {
	for i := 0; i < len(flags); i++ {
		name, value, hasValue := strings.Cut(flags[i], "=")
		known := map[string]bool{"--node-labels": true, "--register-with-taints": true, "--max-pods": true,
			"--kube-reserved": true, "--system-reserved": true, "--eviction-hard": true}
		if !known[name] {
			continue
		}
		if !hasValue && i+1 < len(flags) {
			value = flags[i+1]
			i++
		}
		if err := s.applyFlag(name, value); err != nil {
			return err
		}
	}
	return nil
}

func (s *nodeSettings) applyFlag(name, value string) error {
	switch name {
	case "--node-labels":
		for _, kv := range splitList(value) {
			k, v, _ := strings.Cut(kv, "=")
			if k == "" {
				return fmt.Errorf("--node-labels %q: expecting key=value,…", value)
			}
			s.Labels[k] = v
		}
	case "--register-with-taints":
		for _, t := range splitList(value) {
			taint, err := parseTaint(t)
			if err != nil {
				return fmt.Errorf("--register-with-taints: %w", err)
			}
			s.Taints = append(s.Taints, taint)
		}
	case "--max-pods":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("--max-pods %q: expecting a positive integer", value)
		}
		s.MaxPods = n
	case "--kube-reserved", "--system-reserved":
		m := map[string]string{}
		for _, kv := range splitList(value) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%s %q: expecting resource=quantity,…", name, value)
			}
			m[k] = v
		}
		if name == "--kube-reserved" {
			s.KubeReserved = mergeTags(s.KubeReserved, m)
		} else {
			s.SystemReserved = mergeTags(s.SystemReserved, m)
		}
	case "--eviction-hard":
		m := map[string]string{}
		for _, kv := range splitList(value) {
			k, v, ok := strings.Cut(kv, "<")
			if !ok {
				return fmt.Errorf("--eviction-hard %q: expecting signal<quantity,…", value)
			}
			m[k] = v
		}
		s.EvictionHard = mergeTags(s.EvictionHard, m)
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseTaint reads key=value:Effect or key:Effect.
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("taint %q: expecting key=value:Effect", s)
	}
	k, v, _ := strings.Cut(kv, "=")
	t := corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)}
	return t, validTaint(t)
}

func validTaint(t corev1.Taint) error {
	if t.Key == "" {
		return fmt.Errorf("taint without a key")
	}
	switch t.Effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return nil
	}
	return fmt.Errorf("taint %s has effect %q: use NoSchedule, PreferNoSchedule or NoExecute", t.Key, t.Effect)
}

// resourceList turns a kubelet reservation map into quantities.
func resourceList(m map[string]string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for k, v := range m {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("reservation %s=%q: %w", k, v, err)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}
