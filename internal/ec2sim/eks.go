package ec2sim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// eksCluster is the part of EKS's Cluster object DescribeCluster answers with.
type eksCluster struct {
	Name                    string                     `json:"name"`
	Arn                     string                     `json:"arn"`
	Version                 string                     `json:"version"`
	Endpoint                string                     `json:"endpoint,omitempty"`
	Status                  string                     `json:"status"`
	PlatformVersion         string                     `json:"platformVersion"`
	CertificateAuthority    *eksCertificateAuthority   `json:"certificateAuthority,omitempty"`
	KubernetesNetworkConfig eksKubernetesNetworkConfig `json:"kubernetesNetworkConfig"`
}

type eksCertificateAuthority struct {
	Data string `json:"data"`
}

type eksKubernetesNetworkConfig struct {
	ServiceIpv4Cidr string `json:"serviceIpv4Cidr"`
	IPFamily        string `json:"ipFamily"`
}

// serveEKS answers EKS's REST-JSON API: GET /clusters/{name} (DescribeCluster) for the configured cluster.
func (s *Sim) serveEKS(w http.ResponseWriter, r *http.Request, rid string) {
	name := strings.TrimPrefix(r.URL.Path, "/clusters/")
	if r.Method != http.MethodGet || name == "" || strings.Contains(name, "/") {
		writeEKSError(w, &apiError{Status: http.StatusNotFound, Code: "NotFoundException", Sender: true,
			Message: "ec2sim's EKS serves only GET /clusters/{name} (DescribeCluster)"}, rid)
		return
	}
	if err := s.checkAuth(r, "eks", false); err != nil {
		writeEKSError(w, exceptionSuffix(err), rid)
		return
	}
	if err := s.injectFaults(r.Context(), "DescribeCluster", "ThrottlingException"); err != nil {
		writeEKSError(w, err, rid)
		return
	}
	cfg := s.cloud.cfg
	arn := "arn:aws:eks:" + cfg.Region + ":" + cfg.AccountID + ":cluster/" + name
	if iam := s.iam.Load(); iam != nil {
		if d := iam.check(iam.principalARN(r), []authzRequest{{Action: "eks:DescribeCluster", Resource: arn}}); d != nil {
			writeEKSError(w, &apiError{Status: http.StatusForbidden, Code: "AccessDeniedException", Sender: true,
				Message: "User: " + d.principal + " is not authorized to perform: eks:DescribeCluster on resource: " + arn + " " + d.reason("eks:DescribeCluster")}, rid)
			return
		}
	}
	if name != cfg.ClusterName {
		writeEKSError(w, &apiError{Status: http.StatusNotFound, Code: "ResourceNotFoundException", Sender: true,
			Message: "No cluster found for name: " + name + "."}, rid)
		return
	}
	c := eksCluster{
		Name: name, Arn: arn, Version: cfg.EKS.Version, Endpoint: cfg.EKS.Endpoint, Status: "ACTIVE", PlatformVersion: "eks.1",
		KubernetesNetworkConfig: eksKubernetesNetworkConfig{ServiceIpv4Cidr: cfg.EKS.ServiceIPv4CIDR, IPFamily: "ipv4"},
	}
	if cfg.EKS.CertificateAuthority != "" {
		c.CertificateAuthority = &eksCertificateAuthority{Data: cfg.EKS.CertificateAuthority}
	}
	out, err := json.Marshal(map[string]any{"cluster": c})
	if err != nil {
		writeEKSError(w, asAPIError(err), rid)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", rid)
	_, _ = w.Write(out)
}

// writeEKSError answers as EKS's REST-JSON protocol does: the error type in a header and in the body.
func writeEKSError(w http.ResponseWriter, e *apiError, rid string) {
	body, _ := json.Marshal(map[string]string{"message": e.Message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", rid)
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
