// Command gen-catalog generates Tailor's embedded AWS instance catalogue from compact family tables and the
// published on-demand prices and max-pods figures kept next to it. docs/catalog.md describes the sources.
package main
