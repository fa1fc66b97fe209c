package shell

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// Package managers, build tools, test runners and publishing.

// verbTable builds a verb table: the space-separated verbs of readList
// only read, those of writeList are classified by w, and more adds or
// overrides entries.
func verbTable(readList, writeList string, w rule, more verbs) verbs {
	t := verbs{"": reads("prints usage")}
	for _, v := range strings.Fields(readList) {
		t[v] = readOnly
	}
	for _, v := range strings.Fields(writeList) {
		t[v] = w
	}
	for k, r := range more {
		t[k] = r
	}
	return t
}

var (
	published   = irreversible("publishes to a public registry (others can fetch it at once)")
	unpublished = rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "removes a published version; others' builds that use it break"}
	registryRun = runs("runs a package fetched from the registry, which analysis cannot see")
	pkgScript   = runs("runs a package script, which analysis cannot see")
	pkgWrite    = writes("installs, updates or removes packages")
	buildWrite  = writes("builds or runs the project")
	testWrite   = writes("runs tests, which may do anything the code does")
)

var npmFlags = flags{short: "wC", long: "prefix workspace registry tag otp access loglevel userconfig cache"}

var npmVerbs = verbTable(
	"ls list ll la view info show v outdated search help whoami doctor explain why root bin prefix ping fund help-search query sbom --version -v",
	"install i ci add update up upgrade uninstall rm remove un r unlink link ln rebuild rb prune dedupe ddp init create pack "+
		"cache login logout adduser token access team org hook star unstar set-script version shrinkwrap edit explore install-test it "+
		"install-ci-test cit audit config set get pkg",
	pkgWrite,
	verbs{
		"run": pkgScript, "run-script": pkgScript, "rum": pkgScript, "test": testWrite, "t": testWrite, "tst": testWrite,
		"start": pkgScript, "stop": pkgScript, "restart": pkgScript,
		"exec": registryRun, "x": registryRun,
		"publish":   published,
		"unpublish": unpublished,
		"deprecate": rule{class: gatehouse.ClassWrite, risk: 45, what: "marks a published version deprecated for everyone"},
		"owner":     rule{class: gatehouse.ClassWrite, risk: 45, what: "changes who may publish the package"},
		"dist-tag":  sub(npmFlags, verbs{"ls": readOnly, "": readOnly, "*": rule{class: gatehouse.ClassWrite, risk: 45, what: "moves a published tag for everyone"}}),
		"*":         runs("subcommand not in the catalogue"),
	})

// yarn, pnpm and bun run a package script for an unknown subcommand.
var jsVerbs = verbTable(
	"list ls info why outdated audit licenses help --version -v view",
	"install i add remove rm uninstall update up upgrade link unlink import init create rebuild prune dedupe pack store cache config set",
	pkgWrite,
	verbs{
		"run": pkgScript, "test": testWrite, "t": testWrite, "exec": runVerb("", ""), "dlx": registryRun, "x": registryRun,
		"publish": published, "unpublish": unpublished,
		"npm": sub(flags{}, verbs{"publish": published, "*": pkgWrite}),
		"*":   pkgScript,
	})

var pipVerbs = verbTable(
	"list show freeze check search debug inspect help hash index --version -V",
	"install uninstall download wheel cache config lock",
	pkgWrite,
	nil)

var uvVerbs = verbTable(
	"tree version help --version",
	"sync lock add remove venv init build python cache self export",
	pkgWrite,
	verbs{
		"pip":     sub(flags{}, pipVerbs),
		"run":     runVerb("pw", "with with-requirements with-editable python project directory env-file package group extra index-url"),
		"tool":    sub(flags{}, verbs{"run": registryRun, "list": readOnly, "dir": readOnly, "*": pkgWrite}),
		"publish": published,
	})

var poetryVerbs = verbTable(
	"show check search about help --version list",
	"install add remove update lock build new init shell env config cache self version export source",
	pkgWrite,
	verbs{"run": runVerb("", ""), "publish": published})

var pipenvVerbs = verbTable(
	"graph check --venv --where --py --envs requirements",
	"install uninstall update upgrade lock sync clean shell",
	pkgWrite,
	verbs{"run": runVerb("", "")})

var cargoVerbs = verbTable(
	"tree metadata search version --version -V help pkgid locate-project verify-project read-manifest info report",
	"build b check c clippy fmt doc d add remove rm update install uninstall new init clean fix fetch vendor generate-lockfile login logout",
	buildWrite,
	verbs{
		"run": buildWrite, "r": buildWrite, "test": testWrite, "t": testWrite, "bench": testWrite,
		"publish": published,
		"yank":    rule{class: gatehouse.ClassWrite, risk: 45, what: "yanks a published version for everyone (undo with --undo)"},
		"owner":   rule{class: gatehouse.ClassWrite, risk: 45, what: "changes who may publish the crate"},
		"*":       runs("subcommand not in the catalogue (a cargo plugin?)"),
	})

var goVerbs = verbTable(
	"version list doc help",
	"build run install get generate clean fmt fix tool work vet telemetry",
	buildWrite,
	verbs{
		"test": testWrite,
		"env": by(func(c *call) {
			opts, _ := flags{}.scan(c.rest)
			if has(opts, "-w", "-u") {
				c.is(gatehouse.ClassWrite, riskWrite, "go env -w: changes Go's configuration")
				return
			}
			c.is(gatehouse.ClassRead, riskRead, "go env: reads only")
		}),
		"mod": sub(flags{}, verbs{"graph": readOnly, "why": readOnly, "verify": readOnly, "*": buildWrite}),
	})

var gemVerbs = verbTable(
	"list search info specification contents environment which query dependency help --version -v outdated",
	"install uninstall update cleanup build fetch unpack pristine sources cert signin signout",
	pkgWrite,
	verbs{
		"push":  published,
		"yank":  unpublished,
		"owner": rule{class: gatehouse.ClassWrite, risk: 45, what: "changes who may publish the gem"},
	})

var bundleVerbs = verbTable(
	"list show outdated check info doctor platform version help",
	"install update add remove lock package cache clean config binstubs init",
	pkgWrite,
	verbs{"exec": runVerb("", ""), "*": runs("subcommand not in the catalogue")})

var aptVerbs = verbTable(
	"search show policy list depends rdepends changelog showsrc madison help moo check stats showpkg dump dumpavail",
	"install reinstall upgrade dist-upgrade full-upgrade update build-dep source download autoclean clean remove autoremove markauto satisfy edit-sources",
	pkgWrite,
	verbs{"purge": destroys("removes packages and their configuration")})

func aptRule(c *call) {
	f := flags{short: "oct", long: "option config-file target-release"}
	opts, _ := f.scan(c.args)
	if has(opts, "-s", "--simulate", "--dry-run", "--just-print", "--no-act", "--recon") {
		c.is(gatehouse.ClassRead, riskRead, "%s -s: only simulates", c.name)
		return
	}
	c.dispatch(f, aptVerbs)
	if has(opts, "--purge") && (c.verb == "remove" || c.verb == "autoremove") {
		c.is(gatehouse.ClassDestructive, riskDestructive, "%s %s --purge: removes packages and their configuration", c.name, c.verb)
	}
	_, ops := f.scan(c.rest)
	if c.class != gatehouse.ClassRead {
		c.target(vals(pick(c.rest, ops))...)
	}
}

func dpkgRule(c *call) {
	opts, _ := flags{}.scan(c.args)
	switch {
	case has(opts, "-P", "--purge"):
		c.is(gatehouse.ClassDestructive, riskDestructive, "dpkg -P: removes packages and their configuration")
	case has(opts, "-i", "--install", "--unpack", "--configure", "-r", "--remove", "--set-selections", "--add-architecture", "--remove-architecture"):
		c.is(gatehouse.ClassWrite, riskWrite, "dpkg: installs or removes packages")
	default:
		c.is(gatehouse.ClassRead, riskRead, "dpkg: reads the package database")
	}
}

var rpmVerbs = verbTable(
	"list info search provides whatprovides repolist check-update deplist repoquery se if lu history help makecache",
	"install in update up upgrade reinstall downgrade groupinstall localinstall clean distro-sync remove rm erase autoremove groupremove swap config-manager",
	pkgWrite,
	nil)

func pacmanRule(c *call) {
	ops := ""
	for _, a := range c.args {
		if strings.HasPrefix(a.val, "-") && !strings.HasPrefix(a.val, "--") {
			ops += a.val[1:]
		}
	}
	switch {
	case strings.ContainsAny(ops, "QFTV") || strings.Contains(ops, "S") && strings.ContainsAny(ops, "silgp") && !strings.ContainsAny(ops, "yu"):
		c.is(gatehouse.ClassRead, riskRead, "%s: queries packages", c.name)
	case strings.Contains(ops, "R") && strings.Contains(ops, "n"):
		c.is(gatehouse.ClassDestructive, riskDestructive, "%s -Rn: removes packages and their configuration", c.name)
	case ops == "":
		c.is(gatehouse.ClassRead, riskRead, "%s: prints usage", c.name)
	default:
		c.is(gatehouse.ClassWrite, riskWrite, "%s: installs, updates or removes packages", c.name)
	}
}

var brewVerbs = verbTable(
	"list ls info search outdated doctor config --version deps leaves desc home uses --prefix --cellar --repository commands help log cat formulae casks --env shellenv",
	"install reinstall upgrade update uninstall remove rm tap untap link unlink cleanup pin unpin services bundle autoremove",
	pkgWrite,
	nil)

var snapVerbs = verbTable(
	"list info find version changes connections services logs get known warnings model help",
	"install refresh revert disable enable set unset connect disconnect alias unalias ack login logout save restore start stop restart",
	pkgWrite,
	verbs{
		"remove": by(func(c *call) {
			opts, _ := flags{}.scan(c.rest)
			if has(opts, "--purge") {
				c.is(gatehouse.ClassDestructive, riskDestructive, "snap remove --purge: removes snaps without keeping a snapshot of their data")
				return
			}
			pkgWrite.apply(c)
		}),
		"forget": destroys("deletes a saved snapshot"),
	})

var apkVerbs = verbTable(
	"info search list policy stats dot audit version help",
	"add del upgrade update fix cache",
	pkgWrite,
	nil)

var condaVerbs = verbTable(
	"list info search --version doctor help compare",
	"install create update upgrade remove uninstall clean config init activate deactivate",
	pkgWrite,
	verbs{
		"run": runVerb("np", "name prefix"),
		"env": sub(flags{short: "np", long: "name prefix"}, verbs{"list": readOnly, "export": readOnly, "remove": destroys("deletes an environment"), "*": pkgWrite}),
	})

var flatpakVerbs = verbTable(
	"list info search remote-ls history ps help --version",
	"install uninstall update repair remote-add remote-delete override make-current",
	pkgWrite,
	verbs{"run": runs("runs a flatpak application")})

var composerVerbs = verbTable(
	"show outdated validate diagnose licenses depends prohibits why why-not search help --version audit check-platform-reqs fund",
	"install require update upgrade remove dump-autoload dumpautoload create-project init config clear-cache global exec",
	pkgWrite,
	verbs{"run-script": pkgScript, "run": pkgScript, "*": pkgScript})

var twineVerbs = verbs{
	"":         reads("prints usage"),
	"check":    readOnly,
	"upload":   published,
	"register": published,
}

var dotnetVerbs = verbTable(
	"--info --version --list-sdks --list-runtimes help list sln",
	"build run restore publish pack new add remove clean format tool workload watch store msbuild dev-certs user-secrets",
	buildWrite,
	verbs{
		"test":  testWrite,
		"nuget": sub(flags{}, verbs{"push": published, "delete": unpublished, "*": pkgWrite}),
	})

// makeRule handles make and similar runners of recipes analysis cannot
// see; targets that sound like deploying or deleting raise the risk.
func makeRule(c *call) {
	opts, ops := flags{short: "CfIjloW", long: "directory file makefile include-dir jobs load-average old-file what-if"}.scan(c.args)
	if has(opts, "-n", "--dry-run", "--just-print", "--recon", "-q", "--question", "-p", "--print-data-base") {
		c.is(gatehouse.ClassRead, riskRead, "%s -n: only prints the recipes", c.name)
		return
	}
	c.is(gatehouse.ClassWrite, 35, "%s: runs recipes, which analysis cannot see", c.name)
	for _, i := range ops {
		t := c.args[i].val
		if isAssignment(t) {
			continue
		}
		c.target(t)
		lt := strings.ToLower(t)
		for _, w := range []string{"deploy", "release", "publish", "destroy", "prod", "clean-all", "nuke", "drop", "migrate", "rollout", "upload", "push"} {
			if strings.Contains(lt, w) {
				c.is(gatehouse.ClassWrite, 50, "%s %s: the target sounds like it deploys, publishes or deletes", c.name, t)
				break
			}
		}
	}
}

// gradleRule handles gradle, gradlew, mvn and mvnw: tasks that publish or
// deploy are irreversible.
func gradleRule(c *call) {
	_, ops := flags{short: "pDbfsPlTe", long: "project-dir build-file settings-file init-script file projects threads"}.scan(c.args)
	c.is(gatehouse.ClassWrite, 35, "%s: runs the build, which analysis cannot see", c.name)
	for _, i := range ops {
		t := c.args[i].val
		if strings.HasPrefix(t, "publish") || t == "deploy" || strings.HasPrefix(t, "deploy:") || t == "release:perform" || strings.HasPrefix(t, "upload") {
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s %s: publishes artifacts", c.name, t)
			c.target(t)
		}
	}
}

func goreleaserRule(c *call) {
	opts, ops := flags{short: "f", long: "config parallelism timeout"}.scan(c.args)
	verb := "release"
	if len(ops) > 0 {
		verb = c.args[ops[0]].val
	}
	switch {
	case verb == "check" || verb == "healthcheck" || verb == "help" || verb == "--version" || verb == "jsonschema":
		c.is(gatehouse.ClassRead, riskRead, "goreleaser %s: reads only", verb)
	case verb == "release" && !has(opts, "--snapshot", "--skip-publish", "--skip=publish"):
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "goreleaser release: publishes a release")
	default:
		c.is(gatehouse.ClassWrite, riskWrite, "goreleaser %s: builds artifacts", verb)
	}
}
