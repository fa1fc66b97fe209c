package policy

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// Analyzer returns the analysis of a shell command string. It is injected
// so that this package does not depend on the shell analyser: the daemon
// passes shell.Analyze, tests may pass a fake.
type Analyzer func(command string) gatehouse.Analysis

// Options configure Parse and Load.
type Options struct {
	// Analyze analyses the commands of rules' examples. If it and
	// AnalyzeAction are nil, examples are read and checked for form but
	// not decided.
	Analyze Analyzer
	// AnalyzeAction, if set, analyses example actions as the gateway
	// does, by kind (an MCP call is not a shell command); Analyze is then
	// not used.
	AnalyzeAction func(*gatehouse.Action) gatehouse.Analysis
	// Filename names the source in error messages ("FILE:LINE:COL: …").
	// Load defaults it to the path; Parse to "<policy>".
	Filename string
}

// MaxSize is the largest policy file accepted.
const MaxSize = 16 << 20

// Policy is a loaded, validated and compiled policy file. It is immutable
// and safe for concurrent use.
type Policy struct {
	src   []byte
	rev   string
	set   settings
	rules []*rule
	idx   index
}

// Parse validates and compiles a policy, then decides each rule's examples
// (analysing their commands with opts.Analyze). Every problem found is
// reported, one line each as "FILE:LINE:COL: rule "id": message", in one
// EINVALID *gatehouse.Error; examples are decided only once the rest of
// the file is free of problems, since they need the whole policy.
func Parse(src []byte, opts Options) (*Policy, error) {
	l := &loader{file: opts.Filename}
	if l.file == "" {
		l.file = "<policy>"
	}
	if len(src) > MaxSize {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s: the policy is larger than %d MiB", l.file, MaxSize>>20)
	}
	root := l.document(src)
	if root == nil {
		return nil, l.err()
	}
	set, parsed := l.policy(root)
	if err := l.err(); err != nil {
		return nil, err
	}
	p := &Policy{src: append([]byte(nil), src...), set: set}
	sum := sha256.Sum256(src)
	p.rev = hex.EncodeToString(sum[:])
	p.rules = make([]*rule, len(parsed))
	for i, pr := range parsed {
		p.rules[i] = pr.r
	}
	p.idx = buildIndex(p.rules)
	if opts.Analyze != nil || opts.AnalyzeAction != nil {
		l.checkExamples(p, parsed, opts, time.Now())
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// Load reads and parses the policy file at path. It returns ENOTFOUND if
// the file does not exist (the error also matches fs.ErrNotExist), and
// EINVALID if it cannot be read or is not a valid policy.
func Load(path string, opts Options) (*Policy, error) {
	if opts.Filename == "" {
		opts.Filename = path
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, gatehouse.WrapError(gatehouse.ENOTFOUND, "policy.Load", err, fmt.Sprintf("policy file %s does not exist", path))
		}
		return nil, gatehouse.WrapError(gatehouse.EINVALID, "policy.Load", err, fmt.Sprintf("cannot read policy file %s: %v", path, err))
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINVALID, "policy.Load", err, fmt.Sprintf("cannot read policy file %s: %v", path, err))
	}
	return Parse(src, opts)
}

//go:embed default.yaml
var defaultPolicy []byte

// DefaultPolicy returns the policy written on first start: see
// default.yaml and docs/POLICY.md.
func DefaultPolicy() []byte { return append([]byte(nil), defaultPolicy...) }

// Revision is the hex SHA-256 of the policy's source bytes. It is
// recorded with every decision, so a decision can be traced (and
// Tripwires returns the tripwires: section: the defaults, with what the
// file sets merged over them.
func (p *Policy) Tripwires() tripwire.Config { return p.set.tripwires }

// replayed) against the exact file that made it.
func (p *Policy) Revision() string { return p.rev }

// Source returns a copy of the policy's source bytes.
func (p *Policy) Source() []byte { return append([]byte(nil), p.src...) }

// Rules describes the policy's rules in order.
func (p *Policy) Rules() []gatehouse.RuleInfo {
	out := make([]gatehouse.RuleInfo, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.info
		out[i].EscalateTo = append([]string(nil), r.info.EscalateTo...)
	}
	return out
}

// Default describes the decision made when no rule matches, as a rule
// with the id "default" (Line 0).
func (p *Policy) Default() gatehouse.RuleInfo {
	info := gatehouse.RuleInfo{
		ID:     "default",
		Effect: p.set.def,
		Reason: fmt.Sprintf("no rule matched; the policy's default is %s", p.set.def),
	}
	if info.Effect == gatehouse.EffectReview {
		info.Approvals, info.Timeout, info.OnTimeout = 1, p.set.timeout, p.set.onTimeout
	}
	return info
}
