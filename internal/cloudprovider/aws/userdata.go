package aws

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/netip"
	"net/textproto"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// mimeBoundary separates the parts of the MIME user data Tailor writes, as EKS's own templates do.
const mimeBoundary = "//"

// bootstrap is what a node needs to know to join the cluster and to reserve what Tailor planned for.
type bootstrap struct {
	clusterName     string
	clusterEndpoint string
	clusterCABundle string
	clusterCIDR     string
	labels          map[string]string
	taints          []corev1.Taint
	maxPods         int64
	kubeReserved    corev1.ResourceList
	systemReserved  corev1.ResourceList
	evictionHard    map[string]string
	customUserData  string
}

// userData renders the user data for an AMI family; the result is not yet base64-encoded.
func userData(family string, b bootstrap) (string, error) {
	switch family {
	case AMIFamilyAL2023:
		return al2023UserData(b)
	case AMIFamilyAL2:
		return al2UserData(b)
	case AMIFamilyBottlerocket:
		return bottlerocketUserData(b)
	case AMIFamilyCustom:
		return b.customUserData, nil
	}
	return "", fmt.Errorf("amiFamily %q: use AL2023, AL2, Bottlerocket or Custom", family)
}

// nodeConfig is the part of nodeadm's NodeConfig (node.eks.aws/v1alpha1) Tailor writes.
type nodeConfig struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Spec       nodeConfigSpec `json:"spec"`
}

type nodeConfigSpec struct {
	Cluster nodeConfigCluster `json:"cluster"`
	Kubelet nodeConfigKubelet `json:"kubelet"`
}

type nodeConfigCluster struct {
	Name                 string `json:"name"`
	APIServerEndpoint    string `json:"apiServerEndpoint"`
	CertificateAuthority string `json:"certificateAuthority,omitempty"`
	CIDR                 string `json:"cidr"`
}

type nodeConfigKubelet struct {
	Config map[string]any `json:"config"`
	Flags  []string       `json:"flags,omitempty"`
}

// al2023UserData is a MIME multi-part document: the user's own parts first (nodeadm merges NodeConfigs in order,
// and later ones win), then Tailor's NodeConfig with the labels, taints and reservations the plan assumed.
func al2023UserData(b bootstrap) (string, error) {
	config := map[string]any{
		"maxPods":      b.maxPods,
		"kubeReserved": quantities(b.kubeReserved),
		"evictionHard": b.evictionHard,
	}
	if len(b.systemReserved) > 0 {
		config["systemReserved"] = quantities(b.systemReserved)
	}
	if len(b.taints) > 0 {
		config["registerWithTaints"] = b.taints
	}
	nc := nodeConfig{
		APIVersion: "node.eks.aws/v1alpha1",
		Kind:       "NodeConfig",
		Spec: nodeConfigSpec{
			Cluster: nodeConfigCluster{
				Name: b.clusterName, APIServerEndpoint: b.clusterEndpoint, CertificateAuthority: b.clusterCABundle,
				CIDR: b.clusterCIDR,
			},
			Kubelet: nodeConfigKubelet{Config: config},
		},
	}
	if len(b.labels) > 0 {
		nc.Spec.Kubelet.Flags = []string{"--node-labels=" + joinLabels(b.labels)}
	}
	doc, err := yaml.Marshal(nc)
	if err != nil {
		return "", fmt.Errorf("encoding NodeConfig: %w", err)
	}
	parts, err := customParts(b.customUserData)
	if err != nil {
		return "", err
	}
	parts = append(parts, mimePart{contentType: "application/node.eks.aws", body: string(doc)})
	return writeMIME(parts)
}

// al2UserData runs /etc/eks/bootstrap.sh with the kubelet flags for labels, taints and reservations, after the
// user's own parts.
func al2UserData(b bootstrap) (string, error) {
	flags := []string{
		fmt.Sprintf("--max-pods=%d", b.maxPods),
		"--kube-reserved=" + joinQuantities(b.kubeReserved),
		"--eviction-hard=" + joinEviction(b.evictionHard),
	}
	if len(b.systemReserved) > 0 {
		flags = append(flags, "--system-reserved="+joinQuantities(b.systemReserved))
	}
	if len(b.labels) > 0 {
		flags = append(flags, "--node-labels="+joinLabels(b.labels))
	}
	if len(b.taints) > 0 {
		flags = append(flags, "--register-with-taints="+joinTaints(b.taints))
	}
	var sb strings.Builder
	sb.WriteString("#!/bin/bash -xe\n")
	sb.WriteString("exec > >(tee /var/log/user-data.log | logger -t user-data -s 2>/dev/console) 2>&1\n")
	fmt.Fprintf(&sb, "/etc/eks/bootstrap.sh %s --apiserver-endpoint %s", shellQuote(b.clusterName), shellQuote(b.clusterEndpoint))
	if b.clusterCABundle != "" {
		fmt.Fprintf(&sb, " --b64-cluster-ca %s", shellQuote(b.clusterCABundle))
	}
	if ip, err := clusterDNSIP(b.clusterCIDR); err == nil {
		// bootstrap.sh would otherwise guess the DNS address from the VPC's CIDR, which is wrong for any cluster
		// whose service CIDR is not one of EKS's two defaults.
		fmt.Fprintf(&sb, " --dns-cluster-ip %s", shellQuote(ip))
	}
	fmt.Fprintf(&sb, " --use-max-pods false --kubelet-extra-args %s\n", shellQuote(strings.Join(flags, " ")))
	parts, err := customParts(b.customUserData)
	if err != nil {
		return "", err
	}
	parts = append(parts, mimePart{contentType: "text/x-shellscript; charset=\"us-ascii\"", body: sb.String()})
	return writeMIME(parts)
}

// bottlerocketUserData is Bottlerocket's TOML settings: the user's settings (spec.userData) merged with Tailor's.
// Bottlerocket refuses a document that defines a table twice, so the two are merged as data, not as text. Tailor
// owns the settings that make the node join and match the plan (cluster name, API server, CA, cluster DNS IP, max
// pods) and its keys win in the tables it writes (labels, taints, reservations, eviction); the user's other keys
// and tables are kept.
func bottlerocketUserData(b bootstrap) (string, error) {
	doc := map[string]any{}
	if strings.TrimSpace(b.customUserData) != "" {
		if err := toml.Unmarshal([]byte(b.customUserData), &doc); err != nil {
			return "", fmt.Errorf("spec.userData: not valid Bottlerocket TOML settings: %w", err)
		}
	}
	settings, err := subTable(doc, "settings", "settings")
	if err != nil {
		return "", err
	}
	k8s, err := subTable(settings, "kubernetes", "settings.kubernetes")
	if err != nil {
		return "", err
	}
	k8s["cluster-name"] = b.clusterName
	k8s["api-server"] = b.clusterEndpoint
	if b.clusterCABundle != "" {
		k8s["cluster-certificate"] = b.clusterCABundle
	}
	if ip, err := clusterDNSIP(b.clusterCIDR); err == nil {
		k8s["cluster-dns-ip"] = ip
	}
	k8s["max-pods"] = b.maxPods
	taints := map[string]any{}
	for _, t := range b.taints {
		list, _ := taints[t.Key].([]any)
		taints[t.Key] = append(list, t.Value+":"+string(t.Effect))
	}
	for _, table := range []struct {
		name   string
		values map[string]any
	}{
		{"node-labels", anyMap(b.labels)},
		{"node-taints", taints},
		{"kube-reserved", anyMap(quantities(b.kubeReserved))},
		{"system-reserved", anyMap(quantities(b.systemReserved))},
		{"eviction-hard", anyMap(b.evictionHard)},
	} {
		if len(table.values) == 0 {
			continue
		}
		t, err := subTable(k8s, table.name, "settings.kubernetes."+table.name)
		if err != nil {
			return "", err
		}
		maps.Copy(t, table.values)
	}
	out, err := toml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encoding Bottlerocket settings: %w", err)
	}
	return string(out), nil
}

// subTable is the table under key in parent, created when absent; path names it in the error when the user's
// settings have something else there.
func subTable(parent map[string]any, key, path string) (map[string]any, error) {
	v, ok := parent[key]
	if !ok {
		t := map[string]any{}
		parent[key] = t
		return t, nil
	}
	t, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spec.userData: %s must be a TOML table, not %T", path, v)
	}
	return t, nil
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

type mimePart struct {
	contentType string
	body        string
}

// customParts splits the user's user data into MIME parts: a MIME multi-part document gives its parts, a NodeConfig
// document becomes an application/node.eks.aws part, anything else a shell script part.
func customParts(custom string) ([]mimePart, error) {
	if strings.TrimSpace(custom) == "" {
		return nil, nil
	}
	if strings.HasPrefix(custom, "MIME-Version:") || strings.HasPrefix(custom, "Content-Type: multipart") {
		return parseMIME(custom)
	}
	if strings.Contains(custom, "kind: NodeConfig") {
		return []mimePart{{contentType: "application/node.eks.aws", body: custom}}, nil
	}
	return []mimePart{{contentType: "text/x-shellscript; charset=\"us-ascii\"", body: custom}}, nil
}

func parseMIME(doc string) ([]mimePart, error) {
	header, body, ok := strings.Cut(strings.ReplaceAll(doc, "\r\n", "\n"), "\n\n")
	if !ok {
		return nil, fmt.Errorf("spec.userData: a MIME document needs a blank line after its headers")
	}
	var boundary string
	for _, line := range strings.Split(header, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Type") {
			_, params, err := mime.ParseMediaType(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("spec.userData: Content-Type %q: %w", strings.TrimSpace(v), err)
			}
			boundary = params["boundary"]
		}
	}
	if boundary == "" {
		return nil, fmt.Errorf("spec.userData: a MIME document needs Content-Type: multipart/mixed with a boundary")
	}
	r := multipart.NewReader(strings.NewReader(body), boundary)
	var parts []mimePart
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return parts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("spec.userData: reading MIME part: %w", err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("spec.userData: reading MIME part: %w", err)
		}
		ct := p.Header.Get("Content-Type")
		if ct == "" {
			ct = "text/x-shellscript"
		}
		parts = append(parts, mimePart{contentType: ct, body: string(data)})
	}
}

func writeMIME(parts []mimePart) (string, error) {
	var buf bytes.Buffer
	buf.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + mimeBoundary + "\"\r\n\r\n")
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary(mimeBoundary); err != nil {
		return "", fmt.Errorf("writing user data: %w", err)
	}
	for _, p := range parts {
		pw, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {p.contentType}})
		if err != nil {
			return "", fmt.Errorf("writing user data: %w", err)
		}
		if _, err := io.WriteString(pw, p.body); err != nil {
			return "", fmt.Errorf("writing user data: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("writing user data: %w", err)
	}
	return buf.String(), nil
}

func quantities(rl corev1.ResourceList) map[string]string {
	if len(rl) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range rl {
		out[string(k)] = v.String()
	}
	return out
}

func joinQuantities(rl corev1.ResourceList) string {
	q := quantities(rl)
	parts := make([]string, 0, len(q))
	for _, k := range sortedKeys(q) {
		parts = append(parts, k+"="+q[k])
	}
	return strings.Join(parts, ",")
}

func joinEviction(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"<"+m[k])
	}
	return strings.Join(parts, ",")
}

func joinLabels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range sortedKeys(labels) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

func joinTaints(taints []corev1.Taint) string {
	parts := make([]string, 0, len(taints))
	for _, t := range taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		parts = append(parts, s+":"+string(t.Effect))
	}
	return strings.Join(parts, ",")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// encodeUserData is how EC2 takes user data: base64.
func encodeUserData(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// userDataLabels are the NodeClaim labels a node registers with: all but those that describe the machine (the
// kubelet and the cloud set instance type, zone, region, arch and os; Tailor syncs capacity type and the instance
// attribute labels once the node registers), and never kubernetes.io/hostname.
func userDataLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if k == apiv1.HostnameLabelKey || (k != apiv1.NodePoolLabelKey && slices.Contains(apiv1.WellKnownLabelKeys, k)) {
			continue
		}
		out[k] = v
	}
	return out
}

// clusterDNSIP is the cluster DNS service's address in a service CIDR: the tenth address, as EKS assigns it
// (10.100.0.0/16 → 10.100.0.10, fd00::/108 → fd00::a).
func clusterDNSIP(serviceCIDR string) (string, error) {
	prefix, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return "", fmt.Errorf("service CIDR %q: %w", serviceCIDR, err)
	}
	addr := prefix.Masked().Addr()
	for range 10 {
		addr = addr.Next()
	}
	if !prefix.Contains(addr) {
		return "", fmt.Errorf("service CIDR %q is too small for the cluster DNS address", serviceCIDR)
	}
	return addr.String(), nil
}
