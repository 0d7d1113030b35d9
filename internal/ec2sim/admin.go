package ec2sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AdminInstance is an instance as the admin API lists it.
type AdminInstance struct {
	ID           string `json:"id"`
	InstanceType string `json:"instanceType"`
	Zone         string `json:"zone"`
	CapacityType string `json:"capacityType"`
	// CapacityReservationID is the capacity reservation the instance runs in, if any.
	CapacityReservationID string            `json:"capacityReservationID,omitempty"`
	State                 string            `json:"state"`
	StateReason           string            `json:"stateReason,omitempty"`
	PrivateIP             string            `json:"privateIP"`
	NodeName              string            `json:"nodeName"`
	ProviderID            string            `json:"providerID"`
	LaunchTime            time.Time         `json:"launchTime"`
	InterruptAt           *time.Time        `json:"interruptAt,omitempty"`
	NodeCreated           bool              `json:"nodeCreated"`
	NodeDeleted           bool              `json:"nodeDeleted"`
	NeverRegistr          bool              `json:"neverRegister,omitempty"`
	Tags                  map[string]string `json:"tags,omitempty"`
}

// InterruptRequest is the body of POST /admin/instances/{id}/interrupt.
type InterruptRequest struct {
	// Notice is the time from the warning to the termination; default the simulator's InterruptionNotice (2m).
	Notice *metav1.Duration `json:"notice,omitempty"`
	// Rebalance also sends a rebalance recommendation first.
	Rebalance bool `json:"rebalance,omitempty"`
}

// ScheduledChangeRequest is the body of POST /admin/instances/{id}/scheduled-change.
type ScheduledChangeRequest struct {
	// EventTypeCode defaults to AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED.
	EventTypeCode string `json:"eventTypeCode,omitempty"`
	// Start defaults to two weeks from now.
	Start *metav1.Time `json:"start,omitempty"`
}

// ParameterRequest is the body of PUT /admin/parameters: it creates or changes an SSM parameter.
type ParameterRequest struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// adminHandler serves the admin API: JSON over the same loopback listener, without AWS authentication.
func (s *Sim) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/instances", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Instances())
	})
	mux.HandleFunc("GET /admin/instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		i := slices.IndexFunc(s.Instances(), func(i AdminInstance) bool { return i.ID == r.PathValue("id") })
		if i < 0 {
			writeAdminError(w, http.StatusNotFound, fmt.Errorf("instance %s does not exist", r.PathValue("id")))
			return
		}
		writeAdmin(w, http.StatusOK, s.Instances()[i])
	})
	mux.HandleFunc("POST /admin/instances/{id}/interrupt", func(w http.ResponseWriter, r *http.Request) {
		var req InterruptRequest
		if !readAdmin(w, r, &req) {
			return
		}
		notice := s.opts.Timing.InterruptionNotice
		if req.Notice != nil {
			notice = req.Notice.Duration
		}
		respond(w, s.cloud.interrupt(r.PathValue("id"), notice, req.Rebalance))
	})
	mux.HandleFunc("POST /admin/instances/{id}/stop-kubelet", func(w http.ResponseWriter, r *http.Request) {
		respond(w, s.StopKubelet(r.Context(), r.PathValue("id")))
	})
	mux.HandleFunc("POST /admin/instances/{id}/rebalance", func(w http.ResponseWriter, r *http.Request) {
		respond(w, s.cloud.rebalance(r.PathValue("id")))
	})
	mux.HandleFunc("POST /admin/instances/{id}/scheduled-change", func(w http.ResponseWriter, r *http.Request) {
		var req ScheduledChangeRequest
		if !readAdmin(w, r, &req) {
			return
		}
		var start time.Time
		if req.Start != nil {
			start = req.Start.Time
		}
		respond(w, s.cloud.scheduledChange([]string{r.PathValue("id")}, req.EventTypeCode, start))
	})
	s.iamAdmin(mux)
	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("PUT /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !readAdmin(w, r, &f) {
			return
		}
		if err := s.SetFaults(f); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		writeAdmin(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("GET /admin/capacity", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Capacity())
	})
	mux.HandleFunc("PUT /admin/capacity", func(w http.ResponseWriter, r *http.Request) {
		var rules []CapacityRule
		if !readAdmin(w, r, &rules) {
			return
		}
		if err := s.SetCapacity(rules); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		writeAdmin(w, http.StatusOK, s.Capacity())
	})
	mux.HandleFunc("POST /admin/capacity", func(w http.ResponseWriter, r *http.Request) {
		var rule CapacityRule
		if !readAdmin(w, r, &rule) {
			return
		}
		if err := s.SetCapacity(append(s.Capacity(), rule)); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		writeAdmin(w, http.StatusOK, s.Capacity())
	})
	mux.HandleFunc("GET /admin/queues/{name}", func(w http.ResponseWriter, r *http.Request) {
		q, ok := s.cloud.queues[r.PathValue("name")]
		if !ok {
			writeAdminError(w, http.StatusNotFound, fmt.Errorf("queue %s does not exist", r.PathValue("name")))
			return
		}
		writeAdmin(w, http.StatusOK, q.snapshot())
	})
	mux.HandleFunc("POST /admin/images", func(w http.ResponseWriter, r *http.Request) {
		var img ImageConfig
		if !readAdmin(w, r, &img) {
			return
		}
		added, err := s.cloud.addImage(img)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		writeAdmin(w, http.StatusOK, added)
	})
	mux.HandleFunc("PUT /admin/parameters", func(w http.ResponseWriter, r *http.Request) {
		var p ParameterRequest
		if !readAdmin(w, r, &p) {
			return
		}
		respond(w, s.cloud.setParameter(p.Name, p.Value))
	})
	mux.HandleFunc("GET /admin/info", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, map[string]any{
			"endpoint": s.Endpoint(), "region": s.cloud.cfg.Region, "accountID": s.cloud.cfg.AccountID,
			"clusterName": s.cloud.cfg.ClusterName, "queues": s.cloud.cfg.Queues,
			"instanceTypes": len(s.cloud.types.list), "nodeRegistration": s.opts.KubeClient != nil,
		})
	})
	return mux
}

// respond writes {} for success and the error otherwise: unknown instances are 404, the rest 400.
func respond(w http.ResponseWriter, err error) {
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, err)
		return
	}
	writeAdmin(w, http.StatusOK, map[string]string{})
}

func readAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
		return false
	}
	if len(body) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeAdminError(w, http.StatusBadRequest, fmt.Errorf("decoding body: %w", err))
		return false
	}
	return true
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeAdminError(w http.ResponseWriter, status int, err error) {
	var nf *notFoundError
	if errors.As(err, &nf) {
		status = http.StatusNotFound
	}
	writeAdmin(w, status, map[string]string{"error": err.Error()})
}

type notFoundError struct{ what string }

func (e *notFoundError) Error() string { return e.what + " does not exist" }

// Instances lists every instance EC2 still shows, in launch order.
func (s *Sim) Instances() []AdminInstance {
	c := s.cloud
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(c.clock.Now())
	out := []AdminInstance{}
	for _, i := range c.orderedInstances() {
		a := AdminInstance{
			ID: i.ID, InstanceType: i.InstanceType, Zone: i.Zone, CapacityType: i.CapacityType, State: i.State,
			StateReason: i.StateReason, PrivateIP: i.PrivateIP, NodeName: i.PrivateDNSName,
			ProviderID: providerID(i), LaunchTime: i.LaunchTime, NodeCreated: i.NodeCreated,
			NodeDeleted: i.NodeDeleted, NeverRegistr: i.NeverRegister, Tags: mergeTags(i.Tags),
			CapacityReservationID: i.CapacityReservationID,
		}
		if !i.InterruptAt.IsZero() {
			t := i.InterruptAt
			a.InterruptAt = &t
		}
		out = append(out, a)
	}
	return out
}

// Faults returns the faults in force.
func (s *Sim) Faults() Faults {
	s.cloud.mu.Lock()
	defer s.cloud.mu.Unlock()
	return s.cloud.faults
}

// SetFaults replaces the faults in force.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.cloud.mu.Lock()
	defer s.cloud.mu.Unlock()
	s.cloud.faults = f
	s.cloud.save()
	return nil
}

// Capacity returns the capacity rules in force.
func (s *Sim) Capacity() []CapacityRule {
	s.cloud.mu.Lock()
	defer s.cloud.mu.Unlock()
	return append([]CapacityRule{}, s.cloud.capacity...)
}

// SetCapacity replaces the capacity rules; the last matching rule sizes a pool.
func (s *Sim) SetCapacity(rules []CapacityRule) error {
	for i, r := range rules {
		if err := r.validate(fmt.Sprintf("capacity[%d]", i)); err != nil {
			return err
		}
	}
	s.cloud.mu.Lock()
	defer s.cloud.mu.Unlock()
	s.cloud.capacity = slices.Clone(rules)
	s.cloud.save()
	return nil
}

// Interrupt starts a spot interruption of an instance: the warning now, the termination after notice.
func (s *Sim) Interrupt(id string, notice time.Duration, rebalance bool) error {
	return s.cloud.interrupt(id, notice, rebalance)
}
