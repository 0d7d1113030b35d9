package catalog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// The wire types mirror the public ones where a missing field must be told apart from a zero one.
type wireDocument struct {
	Name          string            `json:"name"`
	Version       string            `json:"version"`
	Region        string            `json:"region"`
	InstanceTypes []json.RawMessage `json:"instanceTypes"`
}

type wireInstanceType struct {
	Name            string            `json:"name"`
	Family          string            `json:"family"`
	Category        string            `json:"category"`
	Generation      wholeNumber       `json:"generation"`
	Size            string            `json:"size"`
	Arch            string            `json:"arch"`
	CPU             wholeNumber       `json:"cpu"`
	MemoryMiB       wholeNumber       `json:"memoryMiB"`
	GPUs            wholeNumber       `json:"gpus"`
	GPUName         string            `json:"gpuName"`
	GPUManufacturer string            `json:"gpuManufacturer"`
	GPUMemoryMiB    wholeNumber       `json:"gpuMemoryMiB"`
	ENIs            wholeNumber       `json:"enis"`
	IPsPerENI       wholeNumber       `json:"ipsPerEni"`
	NetworkCards    wholeNumber       `json:"networkCards"`
	Pods            wholeNumber       `json:"pods"`
	Burstable       bool              `json:"burstable"`
	Overhead        *wireOverhead     `json:"overhead"`
	Labels          map[string]string `json:"labels"`
	Offerings       []wireOffering    `json:"offerings"`
}

type wireOverhead struct {
	CPU       float64     `json:"cpu"`
	MemoryMiB wholeNumber `json:"memoryMiB"`
}

type wireOffering struct {
	Zone         string  `json:"zone"`
	CapacityType string  `json:"capacityType"`
	PricePerHour float64 `json:"pricePerHour"`
	Available    *bool   `json:"available"`
}

// wholeNumber is an integer field that accepts any JSON number with an integral value: 400, 400.0 and 4e2 alike
// (catalogues exported by other tools write whole numbers with a decimal point). 1.5 is rejected as encoding/json
// rejects it for an int64, so the error names the field.
type wholeNumber int64

// maxWholeNumber is the largest float64 below 2^63: larger values do not fit an int64.
const maxWholeNumber = float64(1<<63 - 1024)

func (n *wholeNumber) UnmarshalJSON(data []byte) error {
	text := string(data)
	if text == "null" {
		return nil // as for a plain int64: the field keeps its value
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		*n = wholeNumber(i)
		return nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > maxWholeNumber {
		return &json.UnmarshalTypeError{Value: jsonKind(data), Type: reflect.TypeFor[int64]()}
	}
	*n = wholeNumber(f)
	return nil
}

// jsonKind describes a JSON value as encoding/json's type errors do: "number 1.5", "string", "bool".
func jsonKind(data []byte) string {
	switch data[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case '[':
		return "array"
	case '{':
		return "object"
	default:
		return "number " + string(data)
	}
}

// GPU manufacturers and the extended resource each one's device plugin registers.
const (
	GPUManufacturerNVIDIA = "nvidia"
	GPUManufacturerAMD    = "amd"
)

// Architectures.
const (
	ArchAMD64 = "amd64"
	ArchARM64 = "arm64"
)

// derivedLabelKeys are the labels set from fields (or from offerings); a type's "labels" may not set them.
var derivedLabelKeys = map[string]string{
	apiv1.InstanceTypeLabelKey:            "name",
	apiv1.ArchLabelKey:                    "arch",
	apiv1.InstanceCPULabelKey:             "cpu",
	apiv1.InstanceMemoryLabelKey:          "memoryMiB",
	apiv1.InstanceGPUCountLabelKey:        "gpus",
	apiv1.InstanceGPUNameLabelKey:         "gpuName",
	apiv1.InstanceGPUMemoryLabelKey:       "gpuMemoryMiB",
	apiv1.InstanceGPUManufacturerLabelKey: "gpuManufacturer",
	apiv1.InstanceFamilyLabelKey:          "family",
	apiv1.InstanceCategoryLabelKey:        "category",
	apiv1.InstanceGenerationLabelKey:      "generation",
	apiv1.InstanceSizeLabelKey:            "size",
	apiv1.ZoneLabelKey:                    "offerings[].zone",
	apiv1.CapacityTypeLabelKey:            "offerings[].capacityType",
}

func parse(data []byte) (*Catalog, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("catalogue is empty: want a JSON array of instance types")
	}
	c := &Catalog{}
	var raws []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, describeTopLevel(trimmed, err)
		}
	case '{':
		var doc wireDocument
		var obj map[string]json.RawMessage
		if json.Unmarshal(trimmed, &obj) == nil {
			if err := unknownFields(obj, wireDocument{}, ""); err != nil {
				return nil, fmt.Errorf("catalogue document: %w", err)
			}
		}
		if err := decodeStrict(trimmed, &doc); err != nil {
			return nil, describeTopLevel(trimmed, err)
		}
		if doc.InstanceTypes == nil {
			return nil, errors.New(`catalogue document has no "instanceTypes" array`)
		}
		c.Name, c.Version, c.Region, raws = doc.Name, doc.Version, doc.Region, doc.InstanceTypes
	default:
		return nil, errors.New("catalogue must be a JSON array of instance types or a catalogue document object")
	}

	var errs []error
	firstIndex := map[string]int{}
	for i, raw := range raws {
		t, err := parseEntry(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("instance type [%d] %q: %w", i, entryName(raw), err))
			continue
		}
		if first, dup := firstIndex[t.Name]; dup {
			errs = append(errs, fmt.Errorf("instance type [%d] %q: duplicate name, first defined at [%d]", i, t.Name, first))
			continue
		}
		firstIndex[t.Name] = i
		c.InstanceTypes = append(c.InstanceTypes, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(c.InstanceTypes) == 0 {
		return nil, errors.New("catalogue has no instance types")
	}
	slices.SortFunc(c.InstanceTypes, func(a, b InstanceType) int { return strings.Compare(a.Name, b.Name) })
	return c, nil
}

// decodeStrict decodes exactly one JSON value, rejecting unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// entryName is the best-effort name of an entry that may not decode.
func entryName(raw json.RawMessage) string {
	var named struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &named)
	return named.Name
}

func parseEntry(raw json.RawMessage) (InstanceType, error) {
	if err := checkFields(raw); err != nil {
		return InstanceType{}, err
	}
	var w wireInstanceType
	if err := decodeStrict(raw, &w); err != nil {
		return InstanceType{}, describeDecode(err)
	}
	if problems := validate(&w); len(problems) > 0 {
		return InstanceType{}, errors.New(strings.Join(problems, "; "))
	}
	return normalize(w), nil
}

// validate lists every problem with one entry, each naming the field and what it must be.
func validate(w *wireInstanceType) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	switch {
	case w.Name == "":
		add("name is required")
	case len(validation.IsValidLabelValue(w.Name)) > 0:
		add("name %q is not a valid label value (%s)", w.Name, strings.Join(validation.IsValidLabelValue(w.Name), "; "))
	}
	if w.Arch != ArchAMD64 && w.Arch != ArchARM64 {
		add("arch must be %q or %q, not %q", ArchAMD64, ArchARM64, w.Arch)
	}
	if w.CPU <= 0 {
		add("cpu must be > 0 (the number of vCPUs)")
	}
	if w.MemoryMiB <= 0 {
		add("memoryMiB must be > 0")
	}
	if w.Generation < 0 {
		add("generation must be >= 0")
	}
	p = append(p, validatePods(w)...)
	p = append(p, validateGPUs(w)...)
	p = append(p, validateOverhead(w)...)
	p = append(p, validateLabels(w.Labels)...)
	p = append(p, validateOfferings(w.Offerings)...)
	return p
}

func validatePods(w *wireInstanceType) []string {
	var p []string
	if w.ENIs < 0 || w.IPsPerENI < 0 {
		p = append(p, "enis and ipsPerEni must be >= 0")
	}
	if (w.ENIs == 0) != (w.IPsPerENI == 0) {
		p = append(p, "enis and ipsPerEni go together: give both or neither")
	}
	if w.NetworkCards < 0 || (w.NetworkCards > 1 && w.ENIs == 0) {
		p = append(p, "networkCards must be >= 0 and needs enis (the interfaces of each card)")
	}
	if w.IPsPerENI == 1 {
		p = append(p, "ipsPerEni must be >= 2 (the first address of each ENI is not given to pods)")
	}
	switch {
	case w.Pods < 0:
		p = append(p, "pods must be > 0")
	case w.Pods == 0 && (w.ENIs == 0 || w.IPsPerENI == 0):
		p = append(p, "pods must be > 0 (or give enis and ipsPerEni to compute it)")
	}
	return p
}

func validateGPUs(w *wireInstanceType) []string {
	var p []string
	if w.GPUs < 0 {
		p = append(p, "gpus must be >= 0")
	}
	if w.GPUs == 0 && (w.GPUName != "" || w.GPUMemoryMiB != 0 || w.GPUManufacturer != "") {
		p = append(p, "gpuName, gpuManufacturer and gpuMemoryMiB need gpus > 0")
	}
	if w.GPUMemoryMiB < 0 {
		p = append(p, "gpuMemoryMiB must be >= 0")
	}
	if w.GPUManufacturer != "" && w.GPUManufacturer != GPUManufacturerNVIDIA && w.GPUManufacturer != GPUManufacturerAMD {
		p = append(p, fmt.Sprintf("gpuManufacturer must be %q or %q, not %q", GPUManufacturerNVIDIA, GPUManufacturerAMD, w.GPUManufacturer))
	}
	if w.GPUName != "" && len(validation.IsValidLabelValue(w.GPUName)) > 0 {
		p = append(p, fmt.Sprintf("gpuName %q is not a valid label value", w.GPUName))
	}
	return p
}

func validateOverhead(w *wireInstanceType) []string {
	o := w.Overhead
	if o == nil {
		return nil
	}
	var p []string
	switch {
	case o.CPU < 0 || math.IsNaN(o.CPU) || math.IsInf(o.CPU, 0):
		p = append(p, "overhead.cpu must be >= 0")
	case w.CPU > 0 && o.CPU >= float64(w.CPU):
		p = append(p, fmt.Sprintf("overhead.cpu %g must be less than cpu %d", o.CPU, w.CPU))
	}
	switch {
	case o.MemoryMiB < 0:
		p = append(p, "overhead.memoryMiB must be >= 0")
	case w.MemoryMiB > 0 && o.MemoryMiB >= w.MemoryMiB:
		p = append(p, fmt.Sprintf("overhead.memoryMiB %d must be less than memoryMiB %d", o.MemoryMiB, w.MemoryMiB))
	}
	return p
}

func validateLabels(labels map[string]string) []string {
	var p []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if field, ok := derivedLabelKeys[k]; ok {
			p = append(p, fmt.Sprintf("labels: %q is set from %s; set that instead", k, field))
			continue
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			p = append(p, fmt.Sprintf("labels: key %q is invalid: %s", k, strings.Join(errs, "; ")))
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			p = append(p, fmt.Sprintf("labels: value %q of %q is invalid: %s", labels[k], k, strings.Join(errs, "; ")))
		}
	}
	return p
}

func validateOfferings(offerings []wireOffering) []string {
	if len(offerings) == 0 {
		return []string{"offerings must list at least one zone and capacity type"}
	}
	var p []string
	seen := map[[2]string]int{}
	for j, o := range offerings {
		at := fmt.Sprintf("offerings[%d]", j)
		if o.Zone == "" {
			p = append(p, at+".zone is required")
		} else if len(validation.IsValidLabelValue(o.Zone)) > 0 {
			p = append(p, fmt.Sprintf("%s.zone %q is not a valid label value", at, o.Zone))
		}
		if o.CapacityType != apiv1.CapacityTypeSpot && o.CapacityType != apiv1.CapacityTypeOnDemand {
			p = append(p, fmt.Sprintf("%s.capacityType must be %q or %q, not %q", at, apiv1.CapacityTypeOnDemand, apiv1.CapacityTypeSpot, o.CapacityType))
		}
		if !(o.PricePerHour > 0) || math.IsInf(o.PricePerHour, 0) {
			p = append(p, fmt.Sprintf("%s.pricePerHour must be > 0", at))
		}
		key := [2]string{o.Zone, o.CapacityType}
		if first, dup := seen[key]; dup {
			p = append(p, fmt.Sprintf("%s duplicates offerings[%d] (%s %s)", at, first, o.Zone, o.CapacityType))
		} else {
			seen[key] = j
		}
	}
	return p
}

// normalize fills what a valid entry left to defaults.
func normalize(w wireInstanceType) InstanceType {
	t := InstanceType{
		Name: w.Name, Family: w.Family, Category: w.Category, Generation: int(w.Generation), Size: w.Size,
		Arch: w.Arch, CPU: int64(w.CPU), MemoryMiB: int64(w.MemoryMiB),
		GPUs: int64(w.GPUs), GPUName: w.GPUName, GPUManufacturer: w.GPUManufacturer, GPUMemoryMiB: int64(w.GPUMemoryMiB),
		ENIs: int64(w.ENIs), IPsPerENI: int64(w.IPsPerENI), NetworkCards: int64(w.NetworkCards), Pods: int64(w.Pods),
		Burstable: w.Burstable, Labels: w.Labels,
	}
	family, size, category, generation := SplitName(w.Name)
	t.Family = cmp.Or(t.Family, family)
	t.Size = cmp.Or(t.Size, size)
	t.Category = cmp.Or(t.Category, category)
	t.Generation = cmp.Or(t.Generation, generation)
	if t.GPUs > 0 {
		t.GPUManufacturer = cmp.Or(t.GPUManufacturer, GPUManufacturerNVIDIA)
	}
	if t.Pods == 0 {
		t.Pods = MaxPods(t.ENIs, t.IPsPerENI)
	}
	if w.Overhead != nil {
		t.Overhead = &Overhead{CPU: w.Overhead.CPU, MemoryMiB: int64(w.Overhead.MemoryMiB)}
	}
	for _, o := range w.Offerings {
		available := o.Available == nil || *o.Available
		t.Offerings = append(t.Offerings, Offering{Zone: o.Zone, CapacityType: o.CapacityType, PricePerHour: o.PricePerHour, Available: available})
	}
	slices.SortFunc(t.Offerings, func(a, b Offering) int {
		return cmp.Or(strings.Compare(a.Zone, b.Zone), strings.Compare(a.CapacityType, b.CapacityType))
	})
	return t
}

// MaxPods is the AWS VPC CNI limit: the first address of each ENI is the node's own, and two host-network pods
// (aws-node and kube-proxy) need no address.
func MaxPods(enis, ipsPerENI int64) int64 {
	return enis*(ipsPerENI-1) + 2
}

// SplitName derives the descriptive attributes from an EC2-style name: "m7i-flex.large" is family "m7i-flex",
// size "large", category "m", generation 7. Names of another form give only what they can.
func SplitName(name string) (family, size, category string, generation int) {
	family, size, ok := strings.Cut(name, ".")
	if !ok {
		return "", "", "", 0
	}
	i := 0
	for i < len(family) && family[i] >= 'a' && family[i] <= 'z' {
		i++
	}
	category = family[:i]
	for j := i; j < len(family) && family[j] >= '0' && family[j] <= '9'; j++ {
		generation = generation*10 + int(family[j]-'0')
	}
	return family, size, category, generation
}

// describeTopLevel turns a decoding error of the whole document into a message with a position.
func describeTopLevel(data []byte, err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		line, col := position(data, syntax.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
	}
	return fmt.Errorf("catalogue document: %w", describeDecode(err))
}

// describeDecode rewrites encoding/json's errors to name the field in the schema's terms.
func describeDecode(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("field %s: want %s, got JSON %s", typeErr.Field, kindName(typeErr.Type), typeErr.Value)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		// checkFields catches these first; this is the backstop for shapes it does not walk.
		return errors.New("unknown field " + field + "; see docs/catalog.md for the schema")
	}
	return err
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	default:
		return t.String()
	}
}

// fieldNames lists the JSON names of a wire struct's fields.
func fieldNames(v any) []string {
	rt := reflect.TypeOf(v)
	names := make([]string, 0, rt.NumField())
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// checkFields rejects keys the schema does not have, matching case exactly (encoding/json alone would accept
// "memoryMib" for "memoryMiB"), and names nested ones by path, like "offerings[1].price".
func checkFields(raw json.RawMessage) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil // not an object: the typed decode says what is wrong
	}
	if err := unknownFields(obj, wireInstanceType{}, ""); err != nil {
		return err
	}
	var offerings []map[string]json.RawMessage
	if json.Unmarshal(obj["offerings"], &offerings) == nil {
		for j, o := range offerings {
			if err := unknownFields(o, wireOffering{}, fmt.Sprintf("offerings[%d].", j)); err != nil {
				return err
			}
		}
	}
	var overhead map[string]json.RawMessage
	if json.Unmarshal(obj["overhead"], &overhead) == nil {
		return unknownFields(overhead, wireOverhead{}, "overhead.")
	}
	return nil
}

func unknownFields(obj map[string]json.RawMessage, schema any, prefix string) error {
	known := fieldNames(schema)
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if slices.Contains(known, k) {
			continue
		}
		msg := fmt.Sprintf("unknown field %q", prefix+k)
		if s := suggest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", prefix+s)
		}
		problems = append(problems, msg)
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; ") + "; see docs/catalog.md for the schema")
}

// suggest finds the known field an unknown one probably meant, ignoring case and separators.
func suggest(field string, known []string) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	for _, name := range known {
		if norm(name) == norm(field) {
			return name
		}
	}
	return ""
}

func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset-1 && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
