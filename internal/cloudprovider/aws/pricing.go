package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
)

// prices are what one refresh learnt: on-demand prices per instance type and spot prices per type and zone, in
// US dollars per hour.
type prices struct {
	onDemand map[string]float64
	spot     map[string]map[string]float64
}

// onDemandPrice is the Pricing API's price, else the offline table's.
func (p *prices) onDemandPrice(instanceType string, offline *catalog.Catalog) (float64, bool) {
	if v, ok := p.onDemand[instanceType]; ok {
		return v, true
	}
	return catalogOnDemandPrice(offline, instanceType)
}

func catalogOnDemandPrice(c *catalog.Catalog, instanceType string) (float64, bool) {
	if c == nil {
		return 0, false
	}
	t, ok := c.Lookup(instanceType)
	if !ok {
		return 0, false
	}
	for _, o := range t.Offerings {
		if o.CapacityType == apiv1.CapacityTypeOnDemand && o.PricePerHour > 0 {
			return o.PricePerHour, true
		}
	}
	return 0, false
}

// fetchSpotPrices reads the current Linux spot price of every type in every zone: DescribeSpotPriceHistory from
// now answers the price in force now, newest first.
func fetchSpotPrices(ctx context.Context, api EC2API, now time.Time) (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	seen := map[[2]string]time.Time{}
	pager := ec2.NewDescribeSpotPriceHistoryPaginator(api, &ec2.DescribeSpotPriceHistoryInput{
		ProductDescriptions: []string{"Linux/UNIX"},
		StartTime:           aws.Time(now),
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing spot price history: %w", err)
		}
		for _, sp := range page.SpotPriceHistory {
			typ, zone := string(sp.InstanceType), aws.ToString(sp.AvailabilityZone)
			price, err := strconv.ParseFloat(aws.ToString(sp.SpotPrice), 64)
			if err != nil || typ == "" || zone == "" {
				continue
			}
			at := aws.ToTime(sp.Timestamp)
			key := [2]string{typ, zone}
			if prev, ok := seen[key]; ok && !at.After(prev) {
				continue
			}
			seen[key] = at
			if out[typ] == nil {
				out[typ] = map[string]float64{}
			}
			out[typ][zone] = price
		}
	}
	return out, nil
}

// pricingServiceCode is the Pricing API's name for EC2.
const pricingServiceCode = "AmazonEC2"

// fetchOnDemandPrices reads the on-demand Linux price of every instance type in the region from the Pricing API.
func fetchOnDemandPrices(ctx context.Context, api PricingAPI, region string) (map[string]float64, error) {
	term := func(field, value string) pricingtypes.Filter {
		return pricingtypes.Filter{Field: aws.String(field), Type: pricingtypes.FilterTypeTermMatch, Value: aws.String(value)}
	}
	out := map[string]float64{}
	pager := pricing.NewGetProductsPaginator(api, &pricing.GetProductsInput{
		ServiceCode:   aws.String(pricingServiceCode),
		FormatVersion: aws.String("aws_v1"),
		Filters: []pricingtypes.Filter{
			term("regionCode", region),
			term("operatingSystem", "Linux"),
			term("tenancy", "Shared"),
			term("preInstalledSw", "NA"),
			term("capacitystatus", "Used"),
			term("marketoption", "OnDemand"),
		},
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("getting on-demand prices: %w", err)
		}
		for _, doc := range page.PriceList {
			typ, price, err := parsePriceListItem(doc)
			if err != nil || typ == "" {
				// One odd product should not cost us every other price; the offline table covers it.
				continue
			}
			out[typ] = price
		}
	}
	return out, nil
}

// priceListItem is the part of a Pricing API product document we read.
type priceListItem struct {
	Product struct {
		Attributes struct {
			InstanceType string `json:"instanceType"`
		} `json:"attributes"`
	} `json:"product"`
	Terms struct {
		OnDemand map[string]struct {
			PriceDimensions map[string]struct {
				Unit         string            `json:"unit"`
				PricePerUnit map[string]string `json:"pricePerUnit"`
			} `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

// parsePriceListItem returns the instance type and hourly USD on-demand price of one product document.
func parsePriceListItem(doc string) (string, float64, error) {
	var item priceListItem
	if err := json.Unmarshal([]byte(doc), &item); err != nil {
		return "", 0, fmt.Errorf("decoding price list item: %w", err)
	}
	typ := item.Product.Attributes.InstanceType
	for _, term := range item.Terms.OnDemand {
		for _, dim := range term.PriceDimensions {
			if dim.Unit != "Hrs" {
				continue
			}
			usd, ok := dim.PricePerUnit["USD"]
			if !ok {
				continue
			}
			price, err := strconv.ParseFloat(usd, 64)
			if err != nil {
				return "", 0, fmt.Errorf("price of %s: %w", typ, err)
			}
			if price > 0 {
				return typ, price, nil
			}
		}
	}
	return "", 0, fmt.Errorf("no hourly USD on-demand price for %q", typ)
}

// usageClasses are the capacity types EC2 sells a type as.
func usageClasses(info ec2types.InstanceTypeInfo) []string {
	var out []string
	for _, uc := range info.SupportedUsageClasses {
		switch uc {
		case ec2types.UsageClassTypeSpot:
			out = append(out, apiv1.CapacityTypeSpot)
		case ec2types.UsageClassTypeOnDemand:
			out = append(out, apiv1.CapacityTypeOnDemand)
		}
	}
	return out
}
