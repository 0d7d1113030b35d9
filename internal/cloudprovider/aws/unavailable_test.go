package aws

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestUnavailableOfferingsExpireAfterTTL(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	u := NewUnavailableOfferings(clk, 3*time.Minute)
	if u.IsUnavailable("m5.large", "us-east-1a", "spot") {
		t.Fatal("empty cache reports an offering unavailable")
	}
	u.MarkUnavailable("m5.large", "us-east-1a", "spot")
	v := u.Version()
	steps := []struct {
		advance time.Duration
		want    bool
	}{
		{0, true},
		{2*time.Minute + 59*time.Second, true},
		{time.Second, false},
	}
	for _, s := range steps {
		clk.Step(s.advance)
		if got := u.IsUnavailable("m5.large", "us-east-1a", "spot"); got != s.want {
			t.Errorf("after %v more: IsUnavailable = %v, want %v", s.advance, got, s.want)
		}
	}
	if u.Version() == v {
		t.Error("Version did not change when the entry expired")
	}
	if u.IsUnavailable("m5.large", "us-east-1a", "on-demand") || u.IsUnavailable("m5.large", "us-east-1b", "spot") {
		t.Error("marking one pool took out another")
	}
}

func TestUnavailableOfferingsExpireBumpsVersion(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	u := NewUnavailableOfferings(clk, time.Minute)
	u.MarkUnavailable("c5.large", "us-east-1b", "on-demand")
	v := u.Version()
	u.Expire()
	if u.Version() != v {
		t.Error("Expire changed Version before anything expired")
	}
	clk.Step(time.Minute)
	u.Expire()
	if u.Version() == v {
		t.Error("Expire did not change Version when an entry expired")
	}
}
