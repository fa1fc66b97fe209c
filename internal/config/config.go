// Package config reads the daemon's configuration file (config.yaml in the
// state directory, or `gatehouse serve --config FILE`): the settings that
// are lists and maps rather than single flags — MCP upstreams the daemon
// fronts, agents' workspaces, credential grants. Flags stay the place for
// single values (address, timeouts).
//
// The file is YAML, decoded strictly: an unknown field, a value of the
// wrong type or a failed check is an EINVALID error naming FILE:LINE:COL,
// and a daemon does not start on a file it cannot read. Each section is
// its own type in its own file of this package, with its own Validate.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse"
)

// FileName is the configuration file's name in the state directory.
const FileName = "config.yaml"

// File is the configuration file. The zero value is a valid, empty
// configuration: every section is optional.
type File struct {
	// Path is where the file was read from ("" for none); not a field of
	// the file.
	Path string `yaml:"-"`

	Credentials Credentials `yaml:"credentials"` // credentials.go
	// Upstreams are the MCP servers the daemon fronts (upstreams.go).
	Upstreams Upstreams `yaml:"upstreams"`
	// Workspaces are the directories whose changes are recorded, for
	// diff and rollback (workspaces.go).
	Workspaces Workspaces `yaml:"workspaces"`
}

// Default returns the configuration in force when there is no file.
func Default() *File { return &File{} }

// Parse reads a configuration from src; name is used in error messages.
func Parse(src []byte, name string) (*File, error) {
	f := Default()
	f.Path = name
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file is the default configuration
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s: more than one YAML document", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode && root.Tag != "!!null" {
		var p problems
		p.add(name, root, "the configuration must be a mapping")
		return nil, p.err()
	}
	if err := strictDecode(&doc, f); err != nil {
		return nil, yamlError(name, err)
	}
	if err := f.validate(root); err != nil {
		return nil, err
	}
	return f, nil
}

// Load reads the file at path. If optional is set, a missing file is the
// default configuration.
func Load(path string, optional bool) (*File, error) {
	src, err := os.ReadFile(path)
	if optional && errors.Is(err, os.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "config: %v", err)
	}
	return Parse(src, path)
}

// strictDecode decodes a node into v, refusing unknown fields.
func strictDecode(n *yaml.Node, v any) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// validate runs each section's checks on the decoded file; root is the
// document's top mapping, for the positions of problems (see field).
// Each section adds its call here.
func (f *File) validate(root *yaml.Node) error {
	var errs problems
	errs = append(errs, f.Credentials.Validate(f.Path, field(root, "credentials"))...)
	errs = append(errs, f.Upstreams.Validate(f.Path, field(root, "upstreams"))...)
	errs = append(errs, f.Workspaces.Validate(f.Path, field(root, "workspaces"))...)
	return errs.err()
}

// problems collects validation problems as FILE:LINE:COL: message.
type problems []string

func (p *problems) add(file string, n *yaml.Node, format string, a ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	*p = append(*p, fmt.Sprintf("%s:%d:%d: %s", file, line, col, fmt.Sprintf(format, a...)))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return gatehouse.Errorf(gatehouse.EINVALID, "%s", strings.Join(p, "\n"))
}

// field returns the value node of key in mapping n, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlError turns the YAML library's messages ("yaml: unmarshal errors:\n
// line 3: field x not found in type …") into FILE:LINE: lines.
func yamlError(name string, err error) error {
	var lines []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines = te.Errors
	} else {
		lines = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if m := yamlLine.FindStringSubmatchIndex(l); m != nil {
			out = append(out, fmt.Sprintf("%s:%s: %s", name, l[m[2]:m[3]], l[m[1]:]))
			continue
		}
		out = append(out, name+": "+l)
	}
	return gatehouse.Errorf(gatehouse.EINVALID, "%s", strings.Join(out, "\n"))
}
