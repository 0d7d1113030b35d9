package ec2sim

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
)

// regionLocations are the Pricing API's location names of regions.
var regionLocations = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
	"us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)",
	"eu-central-1": "EU (Frankfurt)", "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-southeast-1": "Asia Pacific (Singapore)",
	"ap-southeast-2": "Asia Pacific (Sydney)", "ap-south-1": "Asia Pacific (Mumbai)", "ca-central-1": "Canada (Central)",
	"sa-east-1": "South America (Sao Paulo)",
}

// The offer and rate codes AWS uses for on-demand terms.
const (
	onDemandOfferCode = "JRTCKXETXF"
	onDemandRateCode  = "6YS6EN2CT7"
)

// sku is a stable 16-character product code for an instance type in a region.
func sku(region, instanceType string) string {
	sum := sha256.Sum256([]byte(region + "/" + instanceType))
	s := strings.ToUpper(new(big.Int).SetBytes(sum[:]).Text(36))
	return s[:16]
}

// product is one Pricing API product with its attributes and on-demand price.
type product struct {
	sku        string
	attributes map[string]string
	price      float64
	document   string
}

func (s *Sim) ec2Products() []product {
	region := s.cloud.cfg.Region
	location := regionLocations[region]
	if location == "" {
		location = region
	}
	usagePrefix := ""
	if region != "us-east-1" {
		usagePrefix = strings.ToUpper(zoneIDPrefix(region)) + "-"
	}
	var out []product
	for _, it := range s.cloud.types.list {
		price := it.onDemandPrice()
		if price == 0 {
			continue
		}
		f := factsOf(it)
		code := sku(region, it.Name)
		attrs := map[string]string{
			"servicecode": "AmazonEC2", "instanceType": it.Name, "instanceFamily": instanceFamilyName(f.family),
			"vcpu": strconv.FormatInt(it.VCPUs, 10), "memory": memoryString(it.MemoryMiB),
			"location": location, "locationType": "AWS Region", "regionCode": region,
			"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
			"licenseModel": "No License required", "capacitystatus": "Used", "marketoption": "OnDemand",
			"usagetype": usagePrefix + "BoxUsage:" + it.Name, "operation": "RunInstances",
			"currentGeneration":     map[bool]string{true: "Yes", false: "No"}[f.current],
			"processorArchitecture": "64-bit", "gpu": strconv.FormatInt(it.GPUs, 10),
		}
		doc := map[string]any{
			"product":     map[string]any{"productFamily": "Compute Instance", "attributes": attrs, "sku": code},
			"serviceCode": "AmazonEC2",
			"terms": map[string]any{"OnDemand": map[string]any{
				code + "." + onDemandOfferCode: map[string]any{
					"priceDimensions": map[string]any{
						code + "." + onDemandOfferCode + "." + onDemandRateCode: map[string]any{
							"unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": []string{},
							"rateCode":     code + "." + onDemandOfferCode + "." + onDemandRateCode,
							"description":  fmt.Sprintf("$%.4f per On Demand Linux %s Instance Hour", price, it.Name),
							"pricePerUnit": map[string]string{"USD": strconv.FormatFloat(price, 'f', 10, 64)},
						},
					},
					"sku": code, "effectiveDate": "2026-01-01T00:00:00Z", "offerTermCode": onDemandOfferCode,
					"termAttributes": map[string]string{},
				},
			}},
			"version":         "20260115000000",
			"publicationDate": "2026-01-15T00:00:00Z",
		}
		data, err := json.Marshal(doc)
		if err != nil {
			continue
		}
		out = append(out, product{sku: code, attributes: attrs, price: price, document: string(data)})
	}
	return out
}

func instanceFamilyName(family string) string {
	switch {
	case strings.HasPrefix(family, "c"):
		return "Compute optimized"
	case strings.HasPrefix(family, "r"), strings.HasPrefix(family, "x"), strings.HasPrefix(family, "z"):
		return "Memory optimized"
	case strings.HasPrefix(family, "i"), strings.HasPrefix(family, "d"), strings.HasPrefix(family, "h"):
		return "Storage optimized"
	case strings.HasPrefix(family, "g"), strings.HasPrefix(family, "p"), strings.HasPrefix(family, "inf"),
		strings.HasPrefix(family, "trn"):
		return "GPU instance"
	}
	return "General purpose"
}

func memoryString(mib int64) string {
	gib := float64(mib) / 1024
	return strconv.FormatFloat(gib, 'f', -1, 64) + " GiB"
}

type pricingFilter struct {
	Field string `json:"Field"`
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

func (pf pricingFilter) matches(p product) (bool, error) {
	var actual string
	switch strings.ToLower(pf.Field) {
	case "sku":
		actual = p.sku
	case "productfamily":
		actual = "Compute Instance"
	default:
		for k, v := range p.attributes {
			if strings.EqualFold(k, pf.Field) {
				actual = v
			}
		}
	}
	switch pf.Type {
	case "TERM_MATCH", "EQUALS":
		return strings.EqualFold(actual, pf.Value), nil
	case "CONTAINS":
		return strings.Contains(strings.ToLower(actual), strings.ToLower(pf.Value)), nil
	case "ANY_OF", "NONE_OF":
		any := false
		for _, v := range strings.Split(pf.Value, ",") {
			if strings.EqualFold(strings.TrimSpace(v), actual) {
				any = true
			}
		}
		return any == (pf.Type == "ANY_OF"), nil
	}
	return false, errValidation("Filter Type %q is invalid: use TERM_MATCH, EQUALS, CONTAINS, ANY_OF or NONE_OF", pf.Type)
}

func getProducts(_ context.Context, s *Sim, body []byte) (any, error) {
	var in struct {
		ServiceCode   string          `json:"ServiceCode"`
		Filters       []pricingFilter `json:"Filters"`
		FormatVersion string          `json:"FormatVersion"`
		MaxResults    int             `json:"MaxResults"`
		NextToken     string          `json:"NextToken"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.ServiceCode == "" {
		return nil, errValidation("ServiceCode is required")
	}
	if in.FormatVersion != "" && in.FormatVersion != "aws_v1" {
		return nil, errValidation("FormatVersion %q is not supported: use aws_v1", in.FormatVersion)
	}
	if in.MaxResults < 0 || in.MaxResults > 100 {
		return nil, errValidation("MaxResults must be between 1 and 100")
	}
	var docs []string
	if in.ServiceCode == "AmazonEC2" {
		for _, p := range s.ec2Products() {
			ok := true
			for _, f := range in.Filters {
				m, err := f.matches(p)
				if err != nil {
					return nil, err
				}
				ok = ok && m
			}
			if ok {
				docs = append(docs, p.document)
			}
		}
	}
	pg, err := paginate("GetProducts", len(docs), in.MaxResults, in.NextToken, 1, 100, 100)
	if err != nil {
		ae := asAPIError(err)
		return nil, &apiError{Status: http.StatusBadRequest, Code: "InvalidNextTokenException", Sender: true, Message: ae.Message}
	}
	out := map[string]any{"FormatVersion": "aws_v1", "PriceList": docs[pg.start:pg.end]}
	if len(docs) == 0 {
		out["PriceList"] = []string{}
	}
	if pg.next != "" {
		out["NextToken"] = pg.next
	}
	return out, nil
}
