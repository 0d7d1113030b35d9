package v1_test

import (
	"math"
	"testing"

	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func TestNodeOverlayReprice(t *testing.T) {
	cases := []struct {
		price, adjustment *string
		in, want          float64
		err               bool
	}{
		{price: ptr.To("0.05"), in: 0.2, want: 0.05},
		{adjustment: ptr.To("-30%"), in: 0.2, want: 0.14},
		{adjustment: ptr.To("+5%"), in: 0.2, want: 0.21},
		{adjustment: ptr.To("+0.01"), in: 0.2, want: 0.21},
		{adjustment: ptr.To("-0.5"), in: 0.2, want: 0},
		{adjustment: ptr.To("-100%"), in: 0.2, want: 0},
		{adjustment: ptr.To("30%"), in: 0.2, err: true},
		{price: ptr.To("-1"), in: 0.2, err: true},
	}
	for _, tc := range cases {
		o := &apiv1.NodeOverlay{Spec: apiv1.NodeOverlaySpec{Price: tc.price, PriceAdjustment: tc.adjustment}}
		got, err := o.Reprice(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("price %v adjustment %v: err = %v, want error %v", ptr.Deref(tc.price, ""), ptr.Deref(tc.adjustment, ""), err, tc.err)
			continue
		}
		if !tc.err && math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("price %v adjustment %v: %v → %v, want %v", ptr.Deref(tc.price, ""), ptr.Deref(tc.adjustment, ""), tc.in, got, tc.want)
		}
	}
}
