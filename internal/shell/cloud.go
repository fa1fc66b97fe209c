package shell

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// Kubernetes, Helm, infrastructure as code and cloud CLIs.

var kubectlFlags = flags{
	short: "nslcfLopk",
	long: "namespace context cluster kubeconfig server user token as as-group as-uid request-timeout cache-dir " +
		"selector filename container output field-selector sort-by template certificate-authority client-certificate " +
		"client-key tls-server-name patch type kustomize grace-period timeout replicas image port",
}

// kubeWipeKinds are the kinds whose deletion takes everything in them or
// their stored data.
var kubeWipeKinds = map[string]bool{
	"namespace": true, "namespaces": true, "ns": true, "project": true, "projects": true,
	"pv": true, "persistentvolume": true, "persistentvolumes": true,
	"pvc": true, "persistentvolumeclaim": true, "persistentvolumeclaims": true,
	"crd": true, "crds": true, "customresourcedefinition": true, "customresourcedefinitions": true,
	"node": true, "nodes": true, "no": true,
}

var kubectlVerbs verbs

func initCatalogue2() {
	kread := rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads cluster state"}
	kwrite := rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "changes cluster resources"}
	kubectlVerbs = verbs{
		"":              reads("prints usage"),
		"get":           kread,
		"describe":      kread,
		"logs":          kread,
		"top":           kread,
		"explain":       readOnly,
		"version":       readOnly,
		"api-resources": kread,
		"api-versions":  kread,
		"cluster-info":  kread,
		"diff":          kread,
		"events":        kread,
		"wait":          kread,
		"completion":    readOnly,
		"kustomize":     readOnly,
		"options":       readOnly,
		"help":          readOnly,
		"auth":          sub(kubectlFlags, verbs{"can-i": kread, "whoami": kread, "*": kwrite}),
		"config": sub(kubectlFlags, verbs{
			"view": readOnly, "get-contexts": readOnly, "current-context": readOnly, "get-clusters": readOnly, "get-users": readOnly,
			"*": writes("changes kubeconfig"),
		}),
		"plugin":       readOnly,
		"apply":        kwrite,
		"create":       kwrite,
		"scale":        kwrite,
		"patch":        kwrite,
		"edit":         kwrite,
		"set":          kwrite,
		"label":        kwrite,
		"annotate":     kwrite,
		"cordon":       kwrite,
		"uncordon":     kwrite,
		"expose":       kwrite,
		"autoscale":    kwrite,
		"taint":        kwrite,
		"run":          kwrite,
		"cp":           kwrite,
		"attach":       kwrite,
		"debug":        kwrite,
		"port-forward": writes("forwards a local port into the cluster"),
		"proxy":        writes("proxies the API server locally"),
		"certificate":  kwrite,
		"rollout": sub(kubectlFlags, verbs{
			"status": kread, "history": kread,
			"*": kwrite,
		}),
		"replace": by(func(c *call) {
			opts, _ := restOpts(c, kubectlFlags)
			if has(opts, "--force") {
				c.is(gatehouse.ClassDestructive, riskDestructive, "kubectl replace --force: deletes and recreates resources")
				return
			}
			kwrite.apply(c)
		}),
		"delete": by(kubectlDelete),
		"drain":  rule{class: gatehouse.ClassDestructive, risk: 75, what: "evicts every pod from a node"},
		"exec":   by(kubectlExec),
		"*":      runs("subcommand not in the catalogue"),
	}
}

func kubectlRule(c *call) {
	opts, _ := kubectlFlags.scan(c.args)
	if ns, ok := value(opts, "-n", "--namespace"); ok {
		c.target("namespace " + ns)
	}
	if ctx, ok := value(opts, "--context"); ok {
		c.target("context " + ctx)
	}
	c.dispatch(kubectlFlags, kubectlVerbs)
}

func kubectlDelete(c *call) {
	opts, operands := restOpts(c, kubectlFlags)
	if v, ok := value(opts, "--dry-run"); ok && v != "none" {
		c.is(gatehouse.ClassRead, riskNetRead, "kubectl delete --dry-run: changes nothing")
		return
	}
	c.is(gatehouse.ClassDestructive, 75, "kubectl delete: deletes resources")
	for _, f := range values(opts, "-f", "--filename", "-k", "--kustomize") {
		c.target(f)
	}
	var kinds []string
	if len(operands) > 0 {
		first := operands[0].val
		if strings.Contains(first, "/") {
			// kubectl delete pod/a svc/b
			for _, o := range operands {
				k, n, _ := strings.Cut(o.val, "/")
				kinds = append(kinds, strings.ToLower(k))
				c.target(k + " " + n)
			}
		} else {
			for _, k := range strings.Split(first, ",") {
				kinds = append(kinds, strings.ToLower(k))
			}
			for _, o := range operands[1:] {
				c.target(first + " " + o.val)
			}
		}
	}
	for _, k := range kinds {
		if kubeWipeKinds[k] {
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "kubectl delete %s: deletes it with everything in it or stored on it", k)
		}
	}
	if has(opts, "--all", "--all-namespaces", "-A") {
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "kubectl delete --all: deletes every resource of the kind")
	}
}

func kubectlExec(c *call) {
	_, ops := kubectlFlags.scan(c.rest)
	pod := ""
	for i, a := range c.rest {
		if a.val == "--" {
			if len(ops) > 0 && ops[0] < i {
				pod = c.rest[ops[0]].val
			}
			if i+1 < len(c.rest) {
				c.delegate(c.rest[i+1:], "kubectl exec", "pod "+pod)
				return
			}
		}
	}
	if len(ops) > 1 {
		c.delegate(c.rest[ops[1]:], "kubectl exec", "pod "+c.rest[ops[0]].val)
		return
	}
	c.is(gatehouse.ClassWrite, riskUnknown, "kubectl exec: opens a shell in a container")
}

var helmFlags = flags{short: "nfo", long: "namespace kube-context kubeconfig values set set-string set-file set-json version repo output registry-config repository-config repository-cache timeout"}

var helmVerbs verbs

func initCatalogue3() {
	helmVerbs = verbs{
		"":           reads("prints usage"),
		"list":       readOnly,
		"ls":         readOnly,
		"status":     readOnly,
		"get":        readOnly,
		"history":    readOnly,
		"hist":       readOnly,
		"show":       readOnly,
		"inspect":    readOnly,
		"template":   readOnly,
		"search":     readOnly,
		"version":    readOnly,
		"lint":       readOnly,
		"env":        readOnly,
		"verify":     readOnly,
		"help":       readOnly,
		"install":    rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "installs a release into the cluster"},
		"upgrade":    rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "upgrades a release in the cluster"},
		"rollback":   rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "rolls a release back"},
		"test":       writes("runs a release's tests in the cluster"),
		"repo":       writes("manages chart repositories"),
		"dependency": writes("updates chart dependencies"),
		"dep":        writes("updates chart dependencies"),
		"plugin":     writes("manages plugins"),
		"pull":       writes("downloads a chart"),
		"fetch":      writes("downloads a chart"),
		"package":    writes("packages a chart"),
		"create":     writes("creates a chart"),
		"registry":   writes("logs in to a registry"),
		"uninstall":  rule{class: gatehouse.ClassDestructive, risk: 80, what: "removes a release and its resources"},
		"delete":     rule{class: gatehouse.ClassDestructive, risk: 80, what: "removes a release and its resources"},
		"del":        rule{class: gatehouse.ClassDestructive, risk: 80, what: "removes a release and its resources"},
		"un":         rule{class: gatehouse.ClassDestructive, risk: 80, what: "removes a release and its resources"},
		"push":       irreversible("publishes a chart"),
	}
}

func helmRule(c *call) {
	opts, _ := helmFlags.scan(c.args)
	if ns, ok := value(opts, "-n", "--namespace"); ok {
		c.target("namespace " + ns)
	}
	c.dispatch(helmFlags, helmVerbs)
	if _, ops := helmFlags.scan(c.rest); len(ops) > 0 && c.class != gatehouse.ClassRead {
		c.target("release " + c.rest[ops[0]].val)
	}
}

var tfFlags = flags{single: true, long: "chdir var var-file target state out"}

var tfVerbs verbs

func initCatalogue4() {
	tfVerbs = verbs{
		"":             reads("prints usage"),
		"plan":         reads("shows what would change"),
		"show":         readOnly,
		"validate":     readOnly,
		"fmt":          reads("formats configuration files"),
		"output":       readOnly,
		"providers":    readOnly,
		"version":      readOnly,
		"graph":        readOnly,
		"console":      readOnly,
		"metadata":     readOnly,
		"init":         writes("installs providers and modules"),
		"get":          writes("installs modules"),
		"import":       rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "imports resources into the state"},
		"taint":        rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "marks a resource for replacement"},
		"untaint":      writes("unmarks a resource"),
		"refresh":      writes("updates the state from real infrastructure"),
		"login":        writes("stores credentials"),
		"logout":       writes("removes credentials"),
		"test":         rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "creates and destroys test infrastructure"},
		"force-unlock": rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "removes a state lock held by someone else"},
		"workspace": sub(tfFlags, verbs{
			"list": readOnly, "show": readOnly, "select": writes("switches workspace"), "new": writes("creates a workspace"),
			"delete": destroys("deletes a workspace and its state"),
		}),
		"state": sub(tfFlags, verbs{
			"list": readOnly, "show": readOnly, "pull": readOnly,
			"rm":   destroys("makes terraform forget resources (they keep running, unmanaged)"),
			"push": destroys("overwrites the remote state"),
			"*":    rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "edits the state"},
		}),
		"apply":   by(tfApply),
		"destroy": by(tfDestroy),
		"run-all": by(func(c *call) { c.subverb(tfFlags, tfVerbs) }),
		"*":       runs("subcommand not in the catalogue"),
	}
}

func tfRule(c *call) { c.dispatch(tfFlags, tfVerbs) }

func tfApply(c *call) {
	opts, _ := restOpts(c, tfFlags)
	for _, t := range values(opts, "-target") {
		c.target(t)
	}
	if has(opts, "-destroy") {
		tfDestroy(c)
		return
	}
	if has(opts, "-auto-approve") {
		c.is(gatehouse.ClassDestructive, 88, "%s -auto-approve: creates, changes or destroys infrastructure without a confirmation step", c.label())
		return
	}
	c.is(gatehouse.ClassDestructive, 80, "%s: creates, changes or destroys infrastructure", c.label())
}

func tfDestroy(c *call) {
	opts, _ := restOpts(c, tfFlags)
	for _, t := range values(opts, "-target") {
		c.target(t)
	}
	risk := riskIrreversible
	if has(opts, "-auto-approve") {
		risk = riskMax
	}
	c.is(gatehouse.ClassIrreversible, risk, "%s: destroys the infrastructure it manages", c.label())
}

var pulumiVerbs verbs

func initCatalogue5() {
	pulumiVerbs = verbs{
		"":        reads("prints usage"),
		"preview": readOnly, "whoami": readOnly, "version": readOnly, "about": readOnly, "logs": readOnly,
		"up":      rule{class: gatehouse.ClassDestructive, risk: 80, what: "creates, changes or destroys infrastructure"},
		"update":  rule{class: gatehouse.ClassDestructive, risk: 80, what: "creates, changes or destroys infrastructure"},
		"destroy": irreversible("destroys the stack's infrastructure"),
		"refresh": writes("updates the state from real infrastructure"),
		"stack": sub(flags{}, verbs{
			"": readOnly, "ls": readOnly, "output": readOnly, "export": readOnly, "history": readOnly, "select": writes("switches stack"),
			"rm": irreversible("deletes a stack"), "*": writes("manages stacks"),
		}),
		"config": sub(flags{}, verbs{"": readOnly, "get": readOnly, "*": writes("changes stack configuration")}),
		"*":      runs("subcommand not in the catalogue"),
	}
}

var cdkVerbs = verbs{
	"":           reads("prints usage"),
	"diff":       rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "shows what would change"},
	"synth":      readOnly,
	"synthesize": readOnly,
	"ls":         readOnly,
	"list":       readOnly,
	"doctor":     readOnly,
	"docs":       readOnly,
	"bootstrap":  writes("creates the deployment toolkit stack"),
	"deploy":     rule{class: gatehouse.ClassDestructive, risk: 80, what: "creates, changes or destroys infrastructure"},
	"destroy":    irreversible("destroys stacks"),
	"*":          runs("subcommand not in the catalogue"),
}

// AWS.

var awsFlags = flags{long: "region profile output endpoint-url query color ca-bundle cli-read-timeout cli-connect-timeout cli-binary-format"}

var awsPrefixes = []prefixRule{
	{"describe-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"list-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"get-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"head-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"search-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"lookup-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"batch-get-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"validate-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"scan", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"query", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"wait", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "waits for a state"}},
	{"tail", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"filter-", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"ls", rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"}},
	{"delete-", irreversible("deletes cloud resources (no undo)")},
	{"batch-delete-", irreversible("deletes cloud resources (no undo)")},
	{"terminate-", irreversible("terminates instances and their local storage")},
	{"purge-", irreversible("deletes every message or item")},
	{"destroy-", irreversible("destroys cloud resources")},
	{"deregister-", irreversible("deregisters cloud resources")},
	{"release-", irreversible("releases addresses or hosts that may not be recoverable")},
	{"remove-", destroys("removes cloud resources or permissions")},
	{"revoke-", destroys("revokes access")},
	{"stop-", destroys("stops running resources")},
	{"reboot-", destroys("reboots running resources")},
	{"disable-", destroys("disables resources")},
	{"reset-", destroys("resets resources")},
	{"cancel-", destroys("cancels running operations")},
	{"send-command", runs("runs commands on instances")},
	// Sent, published or rotated: there is no taking it back.
	{"send-", irreversible("sends a message or email")},
	{"publish", irreversible("publishes a message to its subscribers")},
	{"rotate-", irreversible("rotates a secret or key: the old value stops working")},
	{"invoke", runs("runs a function")},
	{"execute-", runs("runs commands remotely")},
	{"start-session", runs("opens a shell on an instance")},
}

func awsRule(c *call) {
	opts, ops := awsFlags.scan(c.args)
	if p, ok := value(opts, "--profile"); ok {
		c.target("profile " + p)
	}
	if len(ops) < 2 {
		c.is(gatehouse.ClassRead, riskRead, "aws: prints usage or configuration")
		if len(ops) == 1 && c.args[ops[0]].val == "configure" {
			c.is(gatehouse.ClassWrite, riskWrite, "aws configure: changes credentials or configuration")
		}
		return
	}
	service, op := c.args[ops[0]].val, c.args[ops[1]].val
	c.verb, c.rest = service+" "+op, c.args[ops[1]+1:]
	// Resource names: the values of --…-id(s), --…-name, --bucket, ….
	for i, a := range c.rest {
		n := a.val
		if strings.HasPrefix(n, "--") && i+1 < len(c.rest) && !strings.HasPrefix(c.rest[i+1].val, "--") &&
			(strings.HasSuffix(n, "-id") || strings.HasSuffix(n, "-ids") || strings.HasSuffix(n, "-name") ||
				strings.HasSuffix(n, "-identifier") || strings.HasSuffix(n, "-arn") || n == "--bucket") {
			c.target(c.rest[i+1].val)
		}
		if strings.HasPrefix(n, "s3://") {
			c.target(n)
		}
	}
	if c.args[ops[1]].dyn {
		c.is(gatehouse.ClassDestructive, 80, "aws %s: operation is computed at run time", service)
		return
	}
	if service == "s3" {
		awsS3(c, op)
		return
	}
	if r, ok := matchPrefix(op, awsPrefixes); ok {
		r.apply(c)
		return
	}
	c.is(gatehouse.ClassWrite, riskUnknown, "aws %s %s: changes cloud resources", service, op)
}

func awsS3(c *call, op string) {
	opts, _ := flags{long: "exclude include acl storage-class sse grants expires content-type"}.scan(c.rest)
	switch op {
	case "ls", "presign":
		c.is(gatehouse.ClassRead, riskNetRead, "aws s3 %s: reads", op)
	case "rm":
		if has(opts, "--recursive") {
			c.is(gatehouse.ClassIrreversible, riskMax, "aws s3 rm --recursive: deletes every object under the prefix (no undo)")
			return
		}
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "aws s3 rm: deletes objects (no undo)")
	case "rb":
		c.is(gatehouse.ClassIrreversible, riskMax, "aws s3 rb: deletes a bucket")
	case "sync", "mv", "cp":
		if has(opts, "--delete") {
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "aws s3 %s --delete: deletes objects at the destination that are not in the source", op)
			return
		}
		c.is(gatehouse.ClassWrite, riskUnknown, "aws s3 %s: copies objects, overwriting any at the destination", op)
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "aws s3 %s: changes buckets or objects", op)
	}
}

// Clouds whose commands are GROUP… VERB [NAME] (gcloud, az, doctl): the
// first operand that is a known verb decides.

var cloudVerbs = map[string]rule{
	"list":               rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"ls":                 rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"describe":           rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"show":               rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"get":                rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"get-iam-policy":     rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"get-value":          rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"read":               rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"tail":               rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"logs":               rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"info":               readOnly,
	"version":            readOnly,
	"help":               readOnly,
	"status":             rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"whoami":             readOnly,
	"print-access-token": readOnly,
	"delete":             irreversible("deletes cloud resources (no undo)"),
	"rm":                 irreversible("deletes cloud resources (no undo)"),
	"destroy":            irreversible("destroys cloud resources"),
	"purge":              irreversible("deletes every item"),
	"remove":             destroys("removes cloud resources or permissions"),
	"stop":               destroys("stops running resources"),
	"deallocate":         destroys("stops and deallocates resources"),
	"reset":              destroys("resets resources"),
	"ssh":                runs("opens a shell on an instance"),
	"run":                runs("runs commands remotely"),
	"publish":            irreversible("publishes a message to its subscribers"),
	"send":               irreversible("sends a message"),
	"rotate":             irreversible("rotates a secret or key: the old value stops working"),
	"regenerate":         irreversible("regenerates keys: the old ones stop working"),
	"invoke":             runs("runs a function"),
}

func cloudRule(c *call) {
	opts, ops := flags{long: "project account configuration format region zone subscription resource-group output query"}.scan(c.args)
	if p, ok := value(opts, "--project"); ok {
		c.target("project " + p)
	}
	var path []string
	for n, i := range ops {
		a := c.args[i]
		v := a.val
		if a.dyn {
			c.is(gatehouse.ClassDestructive, 80, "%s: subcommand is computed at run time: %s", c.name, v)
			return
		}
		r, ok := cloudVerbs[v]
		if !ok && strings.HasPrefix(v, "remove-") {
			r, ok = destroys("removes cloud resources or permissions"), true
		}
		if !ok && strings.HasPrefix(v, "delete-") {
			r, ok = irreversible("deletes cloud resources (no undo)"), true
		}
		if ok {
			c.verb = strings.Join(append(path, v), " ")
			if n+1 < len(ops) && r.class != gatehouse.ClassRead {
				c.target(c.args[ops[n+1]].val)
			}
			r.apply(c)
			return
		}
		path = append(path, v)
		if len(path) > 4 {
			break
		}
	}
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "%s: prints usage", c.name)
		return
	}
	c.verb = strings.Join(path, " ")
	c.is(gatehouse.ClassWrite, riskUnknown, "%s: changes cloud resources", c.label())
}

func herokuRule(c *call) {
	opts, ops := flags{short: "areos", long: "app remote exit-code size env type command"}.scan(c.args)
	if app, ok := value(opts, "-a", "--app"); ok {
		c.target("app " + app)
	}
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "heroku: prints usage")
		return
	}
	v := c.args[ops[0]].val
	c.verb = v
	switch {
	case v == "run" || v == "run:detached":
		if len(ops) > 1 {
			c.delegate(c.args[ops[1]:], "heroku run")
			return
		}
		c.is(gatehouse.ClassWrite, riskUnknown, "heroku run: runs a command on a dyno")
	case v == "pg:psql":
		if sql, ok := value(opts, "-c", "--command"); ok {
			c.sql(sql, "heroku pg:psql")
			return
		}
		c.is(gatehouse.ClassWrite, riskUnknown, "heroku pg:psql: runs SQL from standard input")
	case v == "apps:destroy" || v == "destroy" || strings.HasSuffix(v, ":destroy") || v == "pg:reset" || v == "pg:copy" || v == "pg:backups:restore":
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "heroku %s: destroys an app, add-on or database", v)
	case strings.HasSuffix(v, ":remove") || v == "config:unset" || v == "ps:stop" || v == "ps:kill" || v == "maintenance:on" || v == "pg:kill" || v == "pg:killall":
		c.is(gatehouse.ClassDestructive, riskDestructive, "heroku %s: removes or stops something", v)
	case v == "logs" || v == "info" || v == "apps" || v == "config" || v == "ps" || v == "releases" || v == "addons" ||
		v == "domains" || v == "status" || v == "auth:whoami" || v == "whoami" || v == "version" || v == "help" ||
		strings.HasSuffix(v, ":info") || strings.HasSuffix(v, ":list") || v == "config:get" || v == "pg:info":
		c.is(gatehouse.ClassRead, riskNetRead, "heroku %s: reads", v)
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "heroku %s: changes an app", v)
	}
}

var gsutilVerbs = verbs{
	"":        reads("prints usage"),
	"ls":      rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"cat":     rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"du":      rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"stat":    rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads"},
	"hash":    readOnly,
	"help":    readOnly,
	"version": readOnly,
	"cp":      rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "copies objects, overwriting any at the destination"},
	"mv":      rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "moves objects"},
	"mb":      writes("creates a bucket"),
	"rm":      irreversible("deletes objects (no undo)"),
	"rb":      rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "deletes a bucket"},
	"rsync": by(func(c *call) {
		opts, _ := restOpts(c, flags{short: "xe"})
		if has(opts, "-d") {
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "gsutil rsync -d: deletes objects at the destination that are not in the source")
			return
		}
		c.is(gatehouse.ClassWrite, riskUnknown, "gsutil rsync: copies objects")
	}),
	"*": runs("subcommand not in the catalogue"),
}

// HashiCorp Vault: reads, writes of secrets (kept as versions by kv v2),
// deletions, and rotations of credentials, which cannot be taken back.
var vaultFlags = flags{long: "address namespace format field mount output-curl-string"}

func vaultRule(c *call) {
	rotates := irreversible("rotates credentials: the old ones stop working")
	c.dispatch(vaultFlags, verbs{
		"read": readOnly, "list": readOnly, "status": readOnly, "version": readOnly, "print": readOnly, "path-help": readOnly,
		"login": writes("logs in, storing a token"),
		"write": by(func(c *call) {
			_, ops := vaultFlags.scan(c.rest)
			if len(ops) > 0 {
				c.target(c.rest[ops[0]].val)
				if strings.Contains(c.rest[ops[0]].val, "rotate") {
					rotates.apply(c)
					return
				}
			}
			writes("writes a secret or configuration").apply(c)
		}),
		"delete": destroys("deletes a secret or configuration"),
		"kv": sub(vaultFlags, verbs{
			"get": readOnly, "list": readOnly, "": readOnlyRule(),
			"metadata": sub(vaultFlags, verbs{"get": readOnly, "list": readOnly, "": readOnlyRule(),
				"delete": irreversible("deletes a secret with every version of it"),
				"*":      writes("changes a secret's metadata")}),
			"delete":   destroys("deletes the latest version of a secret"),
			"destroy":  irreversible("destroys versions of a secret for good"),
			"put":      writes("writes a new version of a secret"),
			"patch":    writes("writes a new version of a secret"),
			"rollback": writes("writes an earlier version of a secret as the newest"),
			"undelete": writes("restores deleted versions of a secret"),
			"*":        writes("changes secrets"),
		}),
		"lease": sub(vaultFlags, verbs{"lookup": readOnly, "": readOnlyRule(),
			"revoke": destroys("revokes leases: the credentials stop working"), "*": writes("changes leases")}),
		"token": sub(vaultFlags, verbs{"lookup": readOnly, "capabilities": readOnly, "": readOnlyRule(),
			"revoke": destroys("revokes tokens"), "*": writes("creates or renews tokens")}),
		"operator": sub(vaultFlags, verbs{"key-status": readOnly, "members": readOnly, "": readOnlyRule(),
			"rotate": rotates, "rekey": rotates,
			"seal": destroys("seals the vault: nothing can read it until unsealed"), "*": writes("changes the vault itself")}),
		"secrets": sub(vaultFlags, verbs{"list": readOnly, "": readOnlyRule(),
			"disable": irreversible("disables a secrets engine and deletes its data"), "*": writes("changes secrets engines")}),
		"policy": sub(vaultFlags, verbs{"read": readOnly, "list": readOnly, "": readOnlyRule(),
			"delete": destroys("deletes a policy"), "*": writes("changes policies")}),
		"*": writes("changes the vault"),
	})
}
