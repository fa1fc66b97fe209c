package shell

import "strings"

// flags describes the options of a program well enough to tell options,
// their values and operands apart.
type flags struct {
	short string // short options that take a value: "u" for -u USER, -uUSER
	long  string // long options that take a value, space-separated: "user group"
	// stop ends the options at the first operand, as POSIX getopt and
	// every wrapper does (sudo rm -f: -f is rm's).
	stop bool
	// single takes options with one dash as long ones (-auto-approve,
	// -cmd SQL), as terraform, sqlite3 and go do.
	single bool
}

// opt is an option found in a command's arguments.
type opt struct {
	name  string // as written before any '=': "-f", "--force", "-auto-approve"
	value string // its value, when it takes one
	i     int    // index of the option's argument
}

// scan splits args into options and the indexes of operands.
func (f flags) scan(args []arg) (opts []opt, operands []int) {
	for i := 0; i < len(args); i++ {
		s := args[i].val
		if s == "--" {
			for j := i + 1; j < len(args); j++ {
				operands = append(operands, j)
			}
			return opts, operands
		}
		if len(s) < 2 || s[0] != '-' {
			operands = append(operands, i)
			if f.stop {
				for j := i + 1; j < len(args); j++ {
					operands = append(operands, j)
				}
				return opts, operands
			}
			continue
		}
		if s[1] == '-' || f.single {
			dashes := 1
			if s[1] == '-' {
				dashes = 2
			}
			name, value, eq := strings.Cut(s, "=")
			o := opt{name: name, value: value, i: i}
			if !eq && hasWord(f.long, name[dashes:]) && i+1 < len(args) {
				i++
				o.value = args[i].val
			}
			opts = append(opts, o)
			continue
		}
		for j := 1; j < len(s); j++ {
			o := opt{name: "-" + s[j:j+1], i: i}
			if strings.IndexByte(f.short, s[j]) >= 0 {
				o.value = s[j+1:]
				if o.value == "" && i+1 < len(args) {
					i++
					o.value = args[i].val
				}
				opts = append(opts, o)
				break
			}
			opts = append(opts, o)
		}
	}
	return opts, operands
}

// hasWord reports whether the space-separated list contains w.
func hasWord(list, w string) bool {
	if w == "" {
		return false
	}
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, " ")
		if item == w {
			return true
		}
	}
	return false
}

// has reports whether one of names is among opts.
func has(opts []opt, names ...string) bool {
	for _, o := range opts {
		for _, n := range names {
			if o.name == n {
				return true
			}
		}
	}
	return false
}

// value returns the value of the last of names among opts.
func value(opts []opt, names ...string) (string, bool) {
	v, found := "", false
	for _, o := range opts {
		for _, n := range names {
			if o.name == n {
				v, found = o.value, true
			}
		}
	}
	return v, found
}

// values returns the values of all of names among opts, in order.
func values(opts []opt, names ...string) []string {
	var vs []string
	for _, o := range opts {
		for _, n := range names {
			if o.name == n {
				vs = append(vs, o.value)
			}
		}
	}
	return vs
}

// pick returns the args at the operand indexes.
func pick(args []arg, idx []int) []arg {
	out := make([]arg, len(idx))
	for i, j := range idx {
		out[i] = args[j]
	}
	return out
}

// vals returns the values of args.
func vals(args []arg) []string {
	out := make([]string, len(args))
	for i, x := range args {
		out[i] = x.val
	}
	return out
}
