package catalog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Encode writes c in the document form that Parse reads, one instance type per line so that data changes show
// as line diffs.
func Encode(w io.Writer, c *Catalog) error {
	bw := bufio.NewWriter(w)
	header := struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		Region  string `json:"region,omitempty"`
	}{c.Name, c.Version, c.Region}
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("encoding catalogue header: %w", err)
	}
	// Reopen the header object to append the instance types to it.
	_, _ = fmt.Fprintf(bw, "%s,\n\"instanceTypes\": ", h[:len(h)-1])
	if err := writeTypes(bw, c.InstanceTypes); err != nil {
		return err
	}
	_, _ = bw.WriteString("}\n")
	return bw.Flush()
}

// EncodeInstanceTypes writes types as a JSON array in the public schema (the form --instance-types reads), one
// instance type per line.
func EncodeInstanceTypes(w io.Writer, types []InstanceType) error {
	bw := bufio.NewWriter(w)
	if err := writeTypes(bw, types); err != nil {
		return err
	}
	_, _ = bw.WriteString("\n")
	return bw.Flush()
}

func writeTypes(bw *bufio.Writer, types []InstanceType) error {
	_, _ = bw.WriteString("[")
	for i, t := range types {
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("encoding instance type %q: %w", t.Name, err)
		}
		if i > 0 {
			_, _ = bw.WriteString(",")
		}
		_, _ = bw.WriteString("\n  ")
		_, _ = bw.Write(b)
	}
	if len(types) > 0 {
		_, _ = bw.WriteString("\n")
	}
	_, _ = bw.WriteString("]")
	return nil
}
