package ec2sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateVersion changes when the state file's shape does; an older file is refused rather than misread.
const stateVersion = 1

// persistedState is the state file: everything that changes while the simulator runs.
type persistedState struct {
	Version         int                  `json:"version"`
	RNG             []byte               `json:"rng"`
	FaultRNG        []byte               `json:"faultRNG"`
	Instances       []*instance          `json:"instances"`
	LaunchTemplates []*launchTemplate    `json:"launchTemplates"`
	Capacity        []CapacityRule       `json:"capacity"`
	Faults          Faults               `json:"faults"`
	Queues          map[string][]message `json:"queues"`
	// Images and Parameters are what the admin API added to the config's.
	Images     []ImageConfig     `json:"images,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// save writes the state file, if there is one. It runs with c.mu held; a failure is logged, not returned, since
// the change it records has already happened.
func (c *cloud) save() {
	c.unsaved = false
	if c.stateFile == "" {
		return
	}
	if err := c.writeState(); err != nil {
		c.log.Error(err, "saving ec2sim state", "file", c.stateFile)
	}
}

// flush saves if a change was recorded without saving. It runs with c.mu held.
func (c *cloud) flush() {
	if c.unsaved {
		c.save()
	}
}

func (c *cloud) writeState() error {
	rng, err := c.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("saving the random source: %w", err)
	}
	faultRNG, err := c.faultPCG.MarshalBinary()
	if err != nil {
		return fmt.Errorf("saving the fault source: %w", err)
	}
	st := persistedState{
		Version:    stateVersion,
		RNG:        rng,
		FaultRNG:   faultRNG,
		Capacity:   c.capacity,
		Faults:     c.faults,
		Queues:     map[string][]message{},
		Images:     c.addedImages,
		Parameters: c.parameterOverrides,
	}
	st.Instances = c.orderedInstances()
	for _, id := range sortedKeys(c.templates) {
		st.LaunchTemplates = append(st.LaunchTemplates, c.templates[id])
	}
	for name, q := range c.queues {
		st.Queues[name] = q.snapshot()
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.stateFile), ".ec2sim-state-*")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing state: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.stateFile); err != nil {
		return fmt.Errorf("replacing state file: %w", err)
	}
	c.stateWrites++
	return nil
}

// load reads the state file if it exists. The state replaces the capacity rules and faults the options gave.
func (c *cloud) load() error {
	if c.stateFile == "" {
		return nil
	}
	data, err := os.ReadFile(c.stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ec2sim state: %w", err)
	}
	var st persistedState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("parsing ec2sim state %s: %w (delete the file to start afresh)", c.stateFile, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("ec2sim state %s has version %d, this ec2sim reads %d: delete the file to start afresh",
			c.stateFile, st.Version, stateVersion)
	}
	if err := c.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("ec2sim state %s: random source: %w", c.stateFile, err)
	}
	if err := c.faultPCG.UnmarshalBinary(st.FaultRNG); err != nil {
		return fmt.Errorf("ec2sim state %s: fault source: %w", c.stateFile, err)
	}
	for _, i := range st.Instances {
		c.instances[i.ID] = i
		c.launches = max(c.launches, i.Seq)
		if i.alive() {
			c.holdAddress(i)
		}
	}
	for _, lt := range st.LaunchTemplates {
		c.templates[lt.ID] = lt
	}
	c.capacity = st.Capacity
	c.faults = st.Faults
	for i := range st.Images {
		img := st.Images[i]
		if _, known := c.images[img.ID]; known {
			continue
		}
		if err := c.registerImage(&img); err != nil {
			return fmt.Errorf("ec2sim state %s: image %s: %w", c.stateFile, img.Name, err)
		}
		c.addedImages = append(c.addedImages, img)
	}
	for name, value := range st.Parameters {
		c.cfg.Parameters[name] = value
		c.parameterOverrides[name] = value
	}
	for name, msgs := range st.Queues {
		if q, ok := c.queues[name]; ok {
			q.restore(msgs)
		}
	}
	c.log.Info("restored ec2sim state", "file", c.stateFile, "instances", len(c.instances),
		"launchTemplates", len(c.templates))
	return nil
}
