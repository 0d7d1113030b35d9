package aws

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// offeringKey names one capacity pool: an instance type in a zone with a capacity type.
type offeringKey struct {
	instanceType, zone, capacityType string
}

// UnavailableOfferings remembers the capacity pools EC2 recently said had no capacity
// (InsufficientInstanceCapacity and its kin), so that planning and launching skip them until the entry expires.
// It is safe for concurrent use.
type UnavailableOfferings struct {
	clk clock.PassiveClock
	ttl time.Duration

	mu      sync.Mutex
	until   map[offeringKey]time.Time
	version uint64
}

// NewUnavailableOfferings returns an empty cache whose entries last ttl on clk.
func NewUnavailableOfferings(clk clock.PassiveClock, ttl time.Duration) *UnavailableOfferings {
	return &UnavailableOfferings{clk: clk, ttl: ttl, until: map[offeringKey]time.Time{}}
}

// MarkUnavailable takes the pool out for the cache's TTL from now (extending an existing entry).
func (u *UnavailableOfferings) MarkUnavailable(instanceType, zone, capacityType string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.until[offeringKey{instanceType, zone, capacityType}] = u.clk.Now().Add(u.ttl)
	u.version++
}

// MarkCapacityTypeUnavailable takes every pool of the capacity type out for the cache's TTL from now: EC2 refused
// the capacity type itself (spot without its service-linked role), whatever the type and zone.
func (u *UnavailableOfferings) MarkCapacityTypeUnavailable(capacityType string) {
	u.MarkUnavailable("", "", capacityType)
}

// IsUnavailable reports whether the pool, or its whole capacity type, is out now.
func (u *UnavailableOfferings) IsUnavailable(instanceType, zone, capacityType string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.outLocked(offeringKey{instanceType, zone, capacityType}) || u.outLocked(offeringKey{capacityType: capacityType})
}

// outLocked reports whether the entry k is in force, dropping it once expired.
func (u *UnavailableOfferings) outLocked(k offeringKey) bool {
	t, ok := u.until[k]
	if !ok {
		return false
	}
	if !u.clk.Now().Before(t) {
		delete(u.until, k)
		u.version++
		return false
	}
	return true
}

// Version changes whenever the set of unavailable pools may have changed: when a pool is marked, and when an
// expired entry is noticed. Callers caching results derived from the cache compare it; call Expire first.
func (u *UnavailableOfferings) Version() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.version
}

// Expire drops the entries whose time has passed, so Version reflects them.
func (u *UnavailableOfferings) Expire() {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.clk.Now()
	for k, t := range u.until {
		if !now.Before(t) {
			delete(u.until, k)
			u.version++
		}
	}
}
