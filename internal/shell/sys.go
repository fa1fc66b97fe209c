package shell

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// Containers, services, processes, power, firewalls, cron and other
// system administration.

var dockerFlags = flags{short: "cHl", long: "config context host log-level tlscacert tlscert tlskey"}

var dockerVerbs verbs

func initCatalogue6() {
	cread := readOnly
	list := verbs{"ls": cread, "list": cread, "inspect": cread, "ps": cread, "logs": cread, "": cread}
	with := func(base verbs, more verbs) verbs {
		v := verbs{}
		for k, r := range base {
			v[k] = r
		}
		for k, r := range more {
			v[k] = r
		}
		return v
	}
	dockerVerbs = verbs{
		"":        reads("prints usage"),
		"ps":      cread,
		"images":  cread,
		"logs":    cread,
		"inspect": cread,
		"version": cread,
		"info":    cread,
		"stats":   cread,
		"top":     cread,
		"events":  cread,
		"history": cread,
		"diff":    cread,
		"port":    cread,
		"search":  rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "searches a registry"},
		"run":     by(dockerRun),
		"create":  writes("creates a container"),
		"build":   writes("builds an image"),
		"exec":    by(dockerExec),
		"pull":    writes("downloads an image"),
		"start":   writes("starts containers"),
		"restart": writes("restarts containers"),
		"stop":    writes("stops containers"),
		"pause":   writes("pauses containers"),
		"unpause": writes("unpauses containers"),
		"tag":     writes("tags an image"),
		"commit":  writes("creates an image from a container"),
		"cp":      writes("copies files into or out of a container"),
		"login":   writes("stores registry credentials"),
		"logout":  writes("removes registry credentials"),
		"load":    writes("loads images"),
		"import":  writes("imports an image"),
		"save":    writes("writes images to a file"),
		"export":  writes("writes a container's filesystem to a file"),
		"attach":  writes("attaches to a container"),
		"update":  writes("changes container settings"),
		"rename":  writes("renames a container"),
		"wait":    cread,
		"kill":    destroys("kills containers"),
		"rm":      destroys("deletes containers"),
		"rmi":     destroys("deletes images"),
		"push":    irreversible("publishes an image to a registry"),
		"compose": by(compose),
		"buildx": sub(dockerFlags, with(list, verbs{
			"prune": destroys("deletes build cache"), "rm": destroys("removes a builder"),
			"*": writes("builds images"),
		})),
		"container": sub(dockerFlags, with(list, verbs{
			"top": cread, "stats": cread, "port": cread, "diff": cread,
			"rm": destroys("deletes containers"), "prune": destroys("deletes all stopped containers"), "kill": destroys("kills containers"),
			"exec": by(dockerExec), "run": by(dockerRun),
			"*": writes("changes containers"),
		})),
		"image": sub(dockerFlags, with(list, verbs{
			"history": cread,
			"rm":      destroys("deletes images"), "prune": destroys("deletes unused images"),
			"push": irreversible("publishes an image to a registry"),
			"*":    writes("changes images"),
		})),
		"volume": sub(dockerFlags, with(list, verbs{
			"rm":    destroysAll("deletes volumes and the data in them"),
			"prune": destroysAll("deletes every unused volume and the data in it"),
			"*":     writes("creates volumes"),
		})),
		"network": sub(dockerFlags, with(list, verbs{
			"rm": destroys("deletes networks"), "prune": destroys("deletes unused networks"),
			"*": writes("changes networks"),
		})),
		"system": sub(dockerFlags, verbs{
			"df": cread, "info": cread, "events": cread, "": cread,
			"prune": by(dockerSystemPrune),
		}),
		"builder": sub(dockerFlags, verbs{"prune": destroys("deletes build cache"), "*": writes("builds images")}),
		"context": sub(dockerFlags, with(list, verbs{"show": cread, "*": writes("changes docker contexts")})),
		"*":       runs("subcommand not in the catalogue"),
	}
	for _, group := range []string{"service", "stack", "node", "secret", "config", "plugin", "swarm", "manifest", "trust"} {
		dockerVerbs[group] = sub(dockerFlags, with(list, verbs{
			"rm":    destroys("deletes swarm objects"),
			"leave": destroys("leaves the swarm"),
			"push":  irreversible("publishes to a registry"),
			"*":     rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "changes swarm objects"},
		}))
	}
}

func dockerRule(c *call) { c.dispatch(dockerFlags, dockerVerbs) }

func dockerSystemPrune(c *call) {
	opts, _ := restOpts(c, flags{long: "filter"})
	if has(opts, "-a", "--all") && has(opts, "--volumes") {
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s system prune -a --volumes: deletes every unused image, container, network and volume with its data", c.name)
		return
	}
	c.is(gatehouse.ClassDestructive, 75, "%s system prune: deletes stopped containers, unused networks, images and build cache", c.name)
}

var dockerRunFlags = flags{
	short: "aceEhlmpuvwP",
	long: "add-host attach cpus cpu-shares cidfile device dns entrypoint env env-file expose gpus group-add " +
		"hostname ip label label-file link log-driver log-opt memory mount name network network-alias platform " +
		"publish pull restart runtime security-opt shm-size stop-signal stop-timeout ulimit user volume volumes-from workdir pid ipc uts cgroupns",
}

func dockerRun(c *call) {
	opts, _ := dockerRunFlags.scan(c.rest)
	c.is(gatehouse.ClassWrite, riskWrite, "%s run: runs a container", c.name)
	host := has(opts, "--privileged")
	for _, o := range opts {
		switch o.name {
		case "-v", "--volume", "--mount":
			src, _, _ := strings.Cut(o.value, ":")
			if src == "/" || strings.Contains(o.value, "docker.sock") || strings.HasPrefix(src, "/etc") || strings.Contains(o.value, "source=/,") {
				host = true
			}
		case "--pid", "--network", "--net", "--ipc", "--uts":
			if o.value == "host" {
				host = true
			}
		}
	}
	if host {
		c.is(gatehouse.ClassWrite, 50, "%s run: the container has access to the host (privileged, host namespaces or host mounts)", c.name)
	}
}

var dockerExecFlags = flags{short: "euw", long: "env env-file user workdir detach-keys"}

func dockerExec(c *call) {
	_, ops := dockerExecFlags.scan(c.rest)
	if len(ops) < 2 {
		c.is(gatehouse.ClassWrite, riskUnknown, "%s exec: runs a command in a container", c.name)
		return
	}
	ctr := c.rest[ops[0]].val
	c.delegate(c.rest[ops[1]:], c.name+" exec", "container "+ctr)
}

var composeFlags = flags{short: "fp", long: "file project-name project-directory profile env-file ansi parallel"}

func compose(c *call) {
	args := c.args
	if c.verb == "compose" {
		args = c.rest
	}
	_, ops := composeFlags.scan(args)
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "compose: prints usage")
		return
	}
	v := args[ops[0]].val
	rest := args[ops[0]+1:]
	label := "docker compose " + v
	opts, _ := flags{short: "t", long: "timeout"}.scan(rest)
	switch v {
	case "ps", "logs", "config", "ls", "images", "top", "version", "port", "events", "convert":
		c.is(gatehouse.ClassRead, riskRead, "%s: reads only", label)
	case "down":
		if has(opts, "-v", "--volumes") {
			c.is(gatehouse.ClassDestructive, riskHigh, "%s -v: removes containers and deletes their volumes with the data", label)
			return
		}
		c.is(gatehouse.ClassDestructive, 65, "%s: stops and removes containers and networks", label)
	case "rm", "kill":
		c.is(gatehouse.ClassDestructive, 65, "%s: removes or kills containers", label)
	case "push":
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: publishes images", label)
	case "exec", "run":
		_, ops := flags{short: "euwpl", long: "env user workdir index entrypoint name publish label volume"}.scan(rest)
		if len(ops) > 1 {
			c.delegate(rest[ops[1]:], label, "service "+rest[ops[0]].val)
			return
		}
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs a command in a container", label)
	default:
		c.is(gatehouse.ClassWrite, riskWrite, "%s: changes containers", label)
	}
}

// systemd and other service managers.

var systemctlFlags = flags{short: "HMtpsnoPT", long: "host machine type property signal kill-whom root lines output job-mode what message state"}

var systemctlVerbs verbs

// remoteAccess are units whose stopping can cut off remote access.
var remoteAccess = []string{"ssh", "sshd", "network", "networking", "NetworkManager", "systemd-networkd", "tailscaled", "wg-quick", "firewalld"}

func initCatalogue7() {
	stop := func(what string) rule {
		return rule{class: gatehouse.ClassDestructive, risk: riskDestructive, what: what, fn: func(c *call) {
			_, ops := systemctlFlags.scan(c.rest)
			for _, i := range ops {
				u := c.rest[i].val
				c.target(u)
				for _, r := range remoteAccess {
					if strings.TrimSuffix(u, ".service") == r {
						c.is(gatehouse.ClassDestructive, riskHigh, "%s %s: may cut off remote access", c.label(), u)
					}
				}
			}
		}}
	}
	start := rule{class: gatehouse.ClassWrite, risk: riskWrite, what: "starts or reconfigures units", fn: func(c *call) {
		_, ops := systemctlFlags.scan(c.rest)
		c.target(vals(pick(c.rest, ops))...)
	}}
	power := rule{class: gatehouse.ClassIrreversible, risk: riskIrreversible, what: "stops or restarts the machine"}
	systemctlVerbs = verbs{
		"": reads("lists units"),
	}
	for _, v := range strings.Fields("status show cat list-units list-unit-files list-sockets list-timers list-jobs list-dependencies list-machines list-automounts list-paths is-active is-enabled is-failed is-system-running help show-environment get-default --version") {
		systemctlVerbs[v] = readOnly
	}
	for _, v := range strings.Fields("start restart reload try-restart reload-or-restart try-reload-or-restart enable reenable daemon-reload daemon-reexec reset-failed set-property edit preset preset-all revert unmask link set-environment unset-environment import-environment set-default add-wants add-requires condrestart force-reload thaw") {
		systemctlVerbs[v] = start
	}
	for _, v := range strings.Fields("stop disable mask kill isolate freeze clean suspend hibernate hybrid-sleep suspend-then-hibernate") {
		systemctlVerbs[v] = stop("stops, disables or signals units")
	}
	for _, v := range strings.Fields("reboot poweroff halt kexec emergency rescue soft-reboot exit") {
		systemctlVerbs[v] = power
	}
	systemctlVerbs["*"] = runs("subcommand not in the catalogue")
}

func systemctlRule(c *call) { c.dispatch(systemctlFlags, systemctlVerbs) }

// serviceRule handles service NAME VERB.
func serviceRule(c *call) {
	_, ops := flags{}.scan(c.args)
	if len(ops) < 2 {
		c.is(gatehouse.ClassRead, riskRead, "service: lists services")
		return
	}
	unit, verb := c.args[ops[0]], c.args[ops[1]]
	c.verb, c.rest = verb.val, []arg{unit}
	r, ok := systemctlVerbs[verb.val]
	if !ok {
		r = runs("action not in the catalogue")
	}
	r.apply(c)
	c.target(unit.val)
}

// Processes.

func killRule(c *call) {
	args := c.args
	sig := "TERM"
	if len(args) > 0 {
		switch s := args[0].val; {
		case s == "-l" || s == "-L" || s == "--list" || s == "--table":
			c.is(gatehouse.ClassRead, riskRead, "kill -l: lists signals")
			return
		case s == "-s" || s == "-n" || s == "--signal":
			if len(args) > 1 {
				sig = args[1].val
			}
			args = args[min(2, len(args)):]
		case strings.HasPrefix(s, "-") && s != "--" && !args[0].dyn:
			sig = s[1:]
			args = args[1:]
		}
	}
	if len(args) > 0 && args[0].val == "--" {
		args = args[1:]
	}
	sig = strings.TrimPrefix(strings.ToUpper(sig), "SIG")
	if sig == "0" {
		c.is(gatehouse.ClassRead, riskRead, "kill -0: only checks that processes exist")
		return
	}
	c.is(gatehouse.ClassDestructive, riskDestructive, "kill: sends SIG%s to processes", sig)
	for _, a := range args {
		c.target("process " + a.val)
		switch a.val {
		case "-1":
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "kill -1: signals every process it may")
		case "1":
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "kill 1: signals init, which can bring the system down")
		}
	}
}

func pkillRule(c *call) {
	opts, ops := flags{short: "sgGPtuUFn", long: "signal pgroup group parent terminal euid uid session ns nslist pidfile"}.scan(c.args)
	if c.name == "killall" && has(opts, "-l", "--list") {
		c.is(gatehouse.ClassRead, riskRead, "killall -l: lists signals")
		return
	}
	if s, _ := value(opts, "-s", "--signal"); s == "0" || has(opts, "-0") {
		c.is(gatehouse.ClassRead, riskRead, "%s -0: only checks that processes exist", c.name)
		return
	}
	c.is(gatehouse.ClassDestructive, riskDestructive, "%s: kills processes by name", c.name)
	for _, i := range ops {
		c.target("processes " + c.args[i].val)
	}
}

func shutdownRule(c *call) {
	opts, _ := flags{}.scan(c.args)
	switch {
	case has(opts, "--help"):
		c.is(gatehouse.ClassRead, riskRead, "%s --help: prints usage", c.name)
	case c.name == "shutdown" && has(opts, "-c"):
		c.is(gatehouse.ClassWrite, riskWrite, "shutdown -c: cancels a pending shutdown")
	case has(opts, "-w", "--wtmp-only"):
		c.is(gatehouse.ClassWrite, riskWrite, "%s -w: only writes a log record", c.name)
	default:
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: stops or restarts the machine, ending everything running on it", c.name)
	}
}

func initRule(c *call) {
	_, ops := flags{}.scan(c.args)
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "%s: prints usage", c.name)
		return
	}
	switch c.args[ops[0]].val {
	case "0", "6":
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s %s: stops or restarts the machine", c.name, c.args[ops[0]].val)
	case "q", "Q", "u", "U":
		c.is(gatehouse.ClassWrite, riskWrite, "%s: reloads its configuration", c.name)
	default:
		c.is(gatehouse.ClassDestructive, riskHigh, "%s: changes the runlevel, stopping services", c.name)
	}
}

// Firewalls.

func iptablesRule(c *call) {
	worst := ""
	for _, a := range c.args {
		switch a.val {
		case "-F", "--flush", "-X", "--delete-chain", "-D", "--delete", "-P", "--policy":
			worst = a.val
		case "-A", "--append", "-I", "--insert", "-R", "--replace", "-N", "--new-chain", "-E", "--rename-chain", "-Z", "--zero":
			if worst == "" {
				worst = "write"
			}
		}
	}
	switch {
	case c.name == "iptables-save" || c.name == "ip6tables-save":
		c.is(gatehouse.ClassRead, riskRead, "%s: prints the rules", c.name)
	case c.name == "iptables-restore" || c.name == "ip6tables-restore":
		c.is(gatehouse.ClassDestructive, riskDestructive, "%s: replaces every firewall rule", c.name)
	case worst == "write":
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: changes firewall rules", c.name)
	case worst != "":
		c.is(gatehouse.ClassDestructive, riskDestructive, "%s %s: removes firewall rules or changes a chain's policy", c.name, worst)
	default:
		c.is(gatehouse.ClassRead, riskRead, "%s: lists or checks rules", c.name)
	}
}

var nftVerbs = verbs{
	"":         reads("prints usage"),
	"list":     readOnly,
	"monitor":  readOnly,
	"describe": readOnly,
	"flush":    destroys("removes firewall rules"),
	"delete":   destroys("removes firewall rules"),
	"destroy":  destroys("removes firewall rules"),
	"*":        rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "changes firewall rules"},
}

func nftRule(c *call) {
	opts, _ := flags{short: "fIo", long: "file includepath"}.scan(c.args)
	if f, ok := value(opts, "-f", "--file"); ok {
		c.is(gatehouse.ClassDestructive, riskDestructive, "nft -f: loads a ruleset from %s, which analysis cannot see", f)
		return
	}
	c.dispatch(flags{short: "fIo", long: "file includepath"}, nftVerbs)
}

var ufwVerbs = verbs{
	"":        reads("prints usage"),
	"status":  readOnly,
	"show":    readOnly,
	"version": readOnly,
	"app":     readOnly,
	"disable": destroys("turns the firewall off"),
	"reset":   destroys("removes every firewall rule"),
	"delete":  destroys("removes firewall rules"),
	"*":       rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "changes firewall rules"},
}

// cron and at.

func crontabRule(c *call) {
	opts, ops := flags{short: "u"}.scan(c.args)
	if u, ok := value(opts, "-u"); ok {
		c.target("user " + u)
	}
	switch {
	case has(opts, "-r"):
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "crontab -r: deletes the whole crontab, with no backup")
	case has(opts, "-l"):
		c.is(gatehouse.ClassRead, riskRead, "crontab -l: lists scheduled jobs")
	case has(opts, "-e"):
		c.is(gatehouse.ClassWrite, riskUnknown, "crontab -e: edits scheduled jobs")
	case len(ops) > 0:
		c.is(gatehouse.ClassDestructive, riskDestructive, "crontab FILE: replaces every scheduled job with those in %s", c.args[ops[0]].val)
	default:
		c.is(gatehouse.ClassDestructive, riskDestructive, "crontab: replaces every scheduled job with what it reads from standard input")
	}
}

// Other administration.

func ipRule(c *call) {
	_, ops := flags{short: "fbn", long: "family batch netns"}.scan(c.args)
	if len(ops) < 2 {
		c.is(gatehouse.ClassRead, riskRead, "ip: shows network configuration")
		return
	}
	obj, act := c.args[ops[0]].val, c.args[ops[1]].val
	switch {
	case act == "show" || act == "list" || act == "ls" || act == "get" || act == "lst" || strings.HasPrefix("show", act) || act == "help":
		c.is(gatehouse.ClassRead, riskRead, "ip %s %s: shows network configuration", obj, act)
	case act == "del" || act == "delete" || act == "flush" || strings.HasPrefix("flush", act) && len(act) > 1:
		c.is(gatehouse.ClassDestructive, riskDestructive, "ip %s %s: removes network configuration (may cut off remote access)", obj, act)
	case act == "exec" && obj == "netns" && len(ops) > 3:
		c.delegate(c.args[ops[3]:], "ip netns exec")
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "ip %s %s: changes network configuration", obj, act)
	}
}

func sysctlRule(c *call) {
	opts, ops := flags{short: "p", long: "load pattern"}.scan(c.args)
	write := has(opts, "-w", "--write", "-p", "--load", "--system")
	for _, i := range ops {
		if strings.Contains(c.args[i].val, "=") {
			write = true
		}
	}
	if write {
		c.is(gatehouse.ClassWrite, riskUnknown, "sysctl: changes kernel parameters")
		return
	}
	c.is(gatehouse.ClassRead, riskRead, "sysctl: reads kernel parameters")
}

func mountRule(c *call) {
	_, ops := flags{short: "tooOLUT", long: "types options test-opts label uuid fstab"}.scan(c.args)
	if len(ops) == 0 && c.name == "mount" {
		c.is(gatehouse.ClassRead, riskRead, "mount: lists mounted filesystems")
		return
	}
	c.is(gatehouse.ClassWrite, riskUnknown, "%s: attaches or detaches filesystems", c.name)
	c.target(vals(pick(c.args, ops))...)
}

func dateRule(c *call) {
	opts, ops := flags{short: "dfrs", long: "date file reference set"}.scan(c.args)
	set := has(opts, "-s", "--set")
	for _, i := range ops {
		if v := c.args[i].val; v != "" && v[0] >= '0' && v[0] <= '9' {
			set = true
		}
	}
	if set {
		c.is(gatehouse.ClassWrite, riskUnknown, "date -s: sets the system clock")
		return
	}
	c.is(gatehouse.ClassRead, riskRead, "date: reads only")
}

func hostnameRule(c *call) {
	opts, ops := flags{short: "F", long: "file"}.scan(c.args)
	if len(ops) > 0 || has(opts, "-F", "--file") {
		c.is(gatehouse.ClassWrite, riskUnknown, "hostname: sets the host name")
		return
	}
	c.is(gatehouse.ClassRead, riskRead, "hostname: reads only")
}
