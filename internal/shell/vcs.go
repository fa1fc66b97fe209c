package shell

import (
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// git and gh.

var gitFlags = flags{short: "Cc", long: "git-dir work-tree namespace config-env super-prefix"}

var gitVerbs verbs

func initCatalogue8() {
	gitVerbs = verbs{
		"":                reads("prints usage or version"),
		"status":          readOnly,
		"log":             readOnly,
		"diff":            readOnly,
		"show":            readOnly,
		"blame":           readOnly,
		"annotate":        readOnly,
		"grep":            readOnly,
		"ls-files":        readOnly,
		"ls-tree":         readOnly,
		"ls-remote":       rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "reads the remote's refs"},
		"rev-parse":       readOnly,
		"rev-list":        readOnly,
		"describe":        readOnly,
		"shortlog":        readOnly,
		"cat-file":        readOnly,
		"help":            readOnly,
		"version":         readOnly,
		"whatchanged":     readOnly,
		"name-rev":        readOnly,
		"for-each-ref":    readOnly,
		"show-ref":        readOnly,
		"show-branch":     readOnly,
		"merge-base":      readOnly,
		"count-objects":   readOnly,
		"fsck":            readOnly,
		"verify-commit":   readOnly,
		"verify-tag":      readOnly,
		"check-ignore":    readOnly,
		"check-attr":      readOnly,
		"var":             readOnly,
		"cherry":          readOnly,
		"range-diff":      readOnly,
		"request-pull":    readOnly,
		"fetch":           rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "downloads from the remote without changing any branch"},
		"add":             writes("stages changes"),
		"commit":          writes("records a commit"),
		"merge":           writes("merges branches"),
		"rebase":          writes("rewrites local commits (recoverable from the reflog)"),
		"pull":            writes("fetches and merges from the remote"),
		"cherry-pick":     writes("applies commits"),
		"revert":          writes("records reverting commits"),
		"init":            writes("creates a repository"),
		"clone":           writes("copies a repository"),
		"mv":              writes("moves tracked files"),
		"rm":              writes("removes files from the working tree and the index (recoverable from history)"),
		"am":              writes("applies patches"),
		"apply":           writes("applies a patch to the working tree"),
		"bisect":          writes("checks out commits to bisect"),
		"submodule":       writes("updates submodules"),
		"sparse-checkout": writes("changes which files are checked out"),
		"notes":           writes("edits notes"),
		"format-patch":    writes("writes patch files"),
		"archive":         writes("writes an archive"),
		"repack":          writes("repacks objects"),
		"maintenance":     writes("runs maintenance tasks"),
		"lfs":             writes("manages large files"),
		"update-index":    writes("changes the index"),
		"replace":         writes("replaces objects"),
		"hash-object":     writes("writes objects"),
		"stage":           writes("stages changes"),
		"checkout":        by(gitCheckout),
		"switch":          by(gitSwitch),
		"restore":         by(gitRestore),
		"reset":           by(gitReset),
		"clean":           by(gitClean),
		"push":            by(gitPush),
		"branch":          by(gitBranch),
		"tag":             by(gitTag),
		"stash":           by(gitStash),
		"remote":          by(gitRemote),
		"config":          by(gitConfig),
		"reflog":          by(gitReflog),
		"gc":              by(gitGC),
		"prune":           by(gitPrune),
		"update-ref":      by(gitUpdateRef),
		"worktree":        by(gitWorktree),
		"filter-branch":   destroysAll("rewrites the history of the repository"),
		"filter-repo":     destroysAll("rewrites the history of the repository"),
		"send-email":      irreversible("sends patches by email"),
		"*":               runs("not in the catalogue (it may be an alias that runs anything)"),
	}
}

func gitRule(c *call) { c.dispatch(gitFlags, gitVerbs) }

func restOpts(c *call, f flags) ([]opt, []arg) {
	opts, ops := f.scan(c.rest)
	return opts, pick(c.rest, ops)
}

// dashPaths returns the arguments after a literal "--" in c.rest.
func dashPaths(c *call) ([]string, bool) {
	for i, a := range c.rest {
		if a.val == "--" {
			return vals(c.rest[i+1:]), true
		}
	}
	return nil, false
}

func gitCheckout(c *call) {
	opts, operands := restOpts(c, flags{short: "bB", long: "orphan"})
	paths, dashes := dashPaths(c)
	discard := has(opts, "-f", "--force") || dashes && len(paths) > 0
	for _, o := range operands {
		if o.val == "." || o.val == ":/" {
			discard = true
		}
	}
	if discard {
		c.is(gatehouse.ClassDestructive, riskDestructive, "git checkout: discards uncommitted changes")
		c.target(paths...)
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "git checkout: switches branches")
}

func gitSwitch(c *call) {
	opts, _ := restOpts(c, flags{short: "cC", long: "create force-create orphan"})
	if has(opts, "-f", "--force", "--discard-changes") {
		c.is(gatehouse.ClassDestructive, riskDestructive, "git switch --discard-changes: discards uncommitted changes")
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "git switch: switches branches")
}

func gitRestore(c *call) {
	opts, operands := restOpts(c, flags{short: "s", long: "source"})
	if has(opts, "-S", "--staged") && !has(opts, "-W", "--worktree") {
		c.is(gatehouse.ClassWrite, riskWrite, "git restore --staged: unstages changes")
		return
	}
	c.is(gatehouse.ClassDestructive, riskDestructive, "git restore: discards uncommitted changes")
	c.target(vals(operands)...)
}

func gitReset(c *call) {
	opts, _ := restOpts(c, flags{})
	if has(opts, "--hard") {
		c.is(gatehouse.ClassDestructive, riskDestructive+5, "git reset --hard: discards uncommitted changes")
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "git reset: moves the branch (recoverable from the reflog)")
}

func gitClean(c *call) {
	opts, _ := restOpts(c, flags{short: "e", long: "exclude"})
	switch {
	case has(opts, "-n", "--dry-run"):
		c.is(gatehouse.ClassRead, riskRead, "git clean -n: lists what would be deleted")
	case has(opts, "-f", "--force"):
		risk, what := riskDestructive+5, "untracked files"
		if has(opts, "-x", "-X") {
			risk, what = riskHigh, "untracked and ignored files (build output, .env files, …)"
		}
		c.is(gatehouse.ClassDestructive, risk, "git clean -f: deletes %s, which git cannot restore", what)
	case has(opts, "-i", "--interactive"):
		c.is(gatehouse.ClassDestructive, riskDestructive, "git clean -i: deletes the untracked files chosen")
	default:
		c.is(gatehouse.ClassRead, riskRead, "git clean: does nothing without -f")
	}
}

// tagLike matches refspecs that look like release tags (v1.2.3, 2.0.1).
var tagLike = regexp.MustCompile(`^(refs/tags/|v?[0-9]+\.[0-9]+)`)

func gitPush(c *call) {
	opts, operands := restOpts(c, flags{short: "o", long: "repo receive-pack exec push-option"})
	if has(opts, "-n", "--dry-run") {
		c.is(gatehouse.ClassRead, riskNetRead, "git push --dry-run: changes nothing")
		return
	}
	force := has(opts, "-f", "--force", "--force-with-lease", "--force-if-includes", "--mirror")
	del := has(opts, "-d", "--delete", "--prune")
	tags := has(opts, "--tags", "--follow-tags")
	mainline := false
	for i, o := range operands {
		c.target(o.val)
		if i == 0 {
			continue
		}
		ref := o.val
		switch {
		case strings.HasPrefix(ref, "+"):
			force = true
			ref = ref[1:]
		case strings.HasPrefix(ref, ":"):
			del = true
			ref = ref[1:]
		}
		if tagLike.MatchString(ref) {
			tags = true
		}
		if _, dst, ok := strings.Cut(ref, ":"); ok {
			ref = dst
		}
		if ref == "main" || ref == "master" || strings.HasPrefix(ref, "release") {
			mainline = true
		}
	}
	bump := 0
	if mainline {
		bump = 5
	}
	switch {
	case force:
		c.is(gatehouse.ClassIrreversible, riskIrreversible+bump, "git push --force: overwrites the remote's history for everyone who uses it")
	case del:
		c.is(gatehouse.ClassIrreversible, riskIrreversible+bump, "git push --delete: deletes branches or tags on the remote")
	case tags:
		c.is(gatehouse.ClassIrreversible, 90, "git push: publishes tags (releases may be built from them)")
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "git push: publishes commits to the remote")
	}
}

func gitBranch(c *call) {
	opts, operands := restOpts(c, flags{short: "u", long: "set-upstream-to contains no-contains merged no-merged points-at sort format"})
	force := has(opts, "-f", "--force")
	switch {
	case has(opts, "-D") || force && has(opts, "-d", "--delete"):
		c.is(gatehouse.ClassDestructive, riskDestructive, "git branch -D: deletes branches even if unmerged")
		c.target(vals(operands)...)
	case has(opts, "-d", "--delete"):
		c.is(gatehouse.ClassWrite, riskWrite, "git branch -d: deletes merged branches")
		c.target(vals(operands)...)
	case has(opts, "-m", "-M", "--move", "-c", "-C", "--copy", "-u", "--set-upstream-to", "--unset-upstream", "--edit-description"):
		c.is(gatehouse.ClassWrite, riskWrite, "git branch: renames, copies or configures branches")
	case len(operands) > 0 && !has(opts, "-l", "--list", "-a", "--all", "-r", "--remotes", "--contains", "--merged", "--no-merged", "--points-at"):
		c.is(gatehouse.ClassWrite, riskWrite, "git branch: creates a branch")
	default:
		c.is(gatehouse.ClassRead, riskRead, "git branch: lists branches")
	}
}

func gitTag(c *call) {
	opts, operands := restOpts(c, flags{short: "mFu", long: "message file local-user contains no-contains merged points-at sort format"})
	switch {
	case has(opts, "-d", "--delete"):
		c.is(gatehouse.ClassDestructive, 65, "git tag -d: deletes tags")
		c.target(vals(operands)...)
	case has(opts, "-l", "--list", "-v", "--verify") || len(operands) == 0:
		c.is(gatehouse.ClassRead, riskRead, "git tag: lists tags")
	default:
		c.is(gatehouse.ClassWrite, riskWrite, "git tag: creates a tag")
	}
}

func gitStash(c *call) {
	c.subverb(flags{}, verbs{
		"":       writes("stashes changes"),
		"list":   readOnly,
		"show":   readOnly,
		"drop":   destroys("deletes a stash"),
		"clear":  destroys("deletes every stash"),
		"*":      writes("stashes or applies changes"),
		"--help": readOnly,
	})
}

func gitRemote(c *call) {
	c.subverb(flags{}, verbs{
		"":        reads("lists remotes"),
		"show":    readOnly,
		"get-url": readOnly,
		"*":       writes("configures remotes"),
	})
}

// gitCommandKeys are configuration keys whose value git runs as a command.
var gitCommandKeys = []string{"alias.", "core.hookspath", "core.sshcommand", "core.pager", "core.editor", "core.fsmonitor", "diff.external", "credential.helper", "core.gitproxy", "sequence.editor", "filter."}

func gitConfig(c *call) {
	opts, operands := restOpts(c, flags{short: "f", long: "file blob type default"})
	verb := ""
	if len(operands) > 0 {
		switch operands[0].val {
		case "get", "list", "set", "unset", "rename-section", "remove-section", "edit":
			verb = operands[0].val
			operands = operands[1:]
		}
	}
	switch {
	case verb == "get" || verb == "list" || has(opts, "--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l", "--show-origin"):
		c.is(gatehouse.ClassRead, riskRead, "git config: reads configuration")
		return
	case verb == "" && len(operands) < 2 && !has(opts, "--unset", "--unset-all", "--add", "--replace-all", "--remove-section", "--rename-section", "-e", "--edit"):
		c.is(gatehouse.ClassRead, riskRead, "git config: reads configuration")
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "git config: changes configuration")
	if len(operands) > 0 {
		key := strings.ToLower(operands[0].val)
		for _, k := range gitCommandKeys {
			if strings.HasPrefix(key, k) {
				c.is(gatehouse.ClassWrite, 50, "git config %s: sets a command git will run", operands[0].val)
			}
		}
	}
}

func gitReflog(c *call) {
	c.subverb(flags{}, verbs{
		"":       reads("shows the reflog"),
		"show":   readOnly,
		"exists": readOnly,
		"expire": destroysAll("discards the record that makes lost commits recoverable"),
		"delete": destroysAll("discards the record that makes lost commits recoverable"),
		"*":      readOnly,
	})
}

func gitGC(c *call) {
	opts, _ := restOpts(c, flags{})
	if v, ok := value(opts, "--prune"); ok && (v == "now" || v == "all") {
		c.is(gatehouse.ClassDestructive, riskHigh, "git gc --prune=%s: deletes unreachable commits for good", v)
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "git gc: packs objects")
}

func gitPrune(c *call) {
	opts, _ := restOpts(c, flags{})
	if has(opts, "-n", "--dry-run") {
		c.is(gatehouse.ClassRead, riskRead, "git prune -n: lists what would be deleted")
		return
	}
	c.is(gatehouse.ClassDestructive, riskHigh, "git prune: deletes unreachable objects for good")
}

func gitUpdateRef(c *call) {
	opts, operands := restOpts(c, flags{short: "m"})
	if has(opts, "-d") {
		c.is(gatehouse.ClassDestructive, riskDestructive, "git update-ref -d: deletes a ref")
		c.target(vals(operands)...)
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "git update-ref: moves a ref")
}

func gitWorktree(c *call) {
	c.subverb(flags{}, verbs{
		"":     reads("prints usage"),
		"list": readOnly,
		"remove": by(func(c *call) {
			opts, _ := restOpts(c, flags{})
			if has(opts, "-f", "--force") {
				c.is(gatehouse.ClassDestructive, riskDestructive, "git worktree remove --force: deletes a worktree with its uncommitted changes")
				return
			}
			c.is(gatehouse.ClassWrite, riskWrite, "git worktree remove: removes a clean worktree")
		}),
		"*": writes("manages worktrees"),
	})
}

// gh, the GitHub CLI.

var ghFlags = flags{short: "R", long: "repo hostname"}

var ghVerbs verbs

func initCatalogue9() {
	posts := rule{class: gatehouse.ClassWrite, risk: 45, what: "posts on GitHub, notifying others"}
	ghVerbs = verbs{
		"": reads("prints usage"),
		"pr": sub(ghFlags, verbs{
			"list": readOnly, "view": readOnly, "status": readOnly, "diff": readOnly, "checks": readOnly, "": readOnlyRule(),
			"create": posts, "comment": posts, "review": posts, "close": posts, "reopen": posts, "edit": posts, "ready": posts,
			"checkout": writes("checks out a pull request locally"),
			"merge":    rule{class: gatehouse.ClassIrreversible, risk: 90, what: "merges a pull request on GitHub, visible to everyone"},
			"*":        posts,
		}),
		"issue": sub(ghFlags, verbs{
			"list": readOnly, "view": readOnly, "status": readOnly, "": readOnlyRule(),
			"delete": irreversible("deletes an issue"),
			"*":      posts,
		}),
		"repo": sub(ghFlags, verbs{
			"list": readOnly, "view": readOnly, "": readOnlyRule(),
			"clone":  writes("copies a repository"),
			"delete": rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "deletes a repository on GitHub"},
			"*":      rule{class: gatehouse.ClassWrite, risk: 45, what: "changes a repository on GitHub"},
		}),
		"release": sub(ghFlags, verbs{
			"list": readOnly, "view": readOnly, "": readOnlyRule(),
			"download":     writes("downloads release assets"),
			"create":       irreversible("publishes a release"),
			"upload":       irreversible("publishes release assets"),
			"delete":       irreversible("deletes a release"),
			"delete-asset": irreversible("deletes a release asset"),
			"*":            rule{class: gatehouse.ClassWrite, risk: 45, what: "changes a release"},
		}),
		"run": sub(ghFlags, verbs{
			"list": readOnly, "view": readOnly, "watch": readOnly, "": readOnlyRule(),
			"download": writes("downloads artifacts"),
			"delete":   destroys("deletes a workflow run"),
			"*":        writes("reruns or cancels workflow runs"),
		}),
		"workflow": sub(ghFlags, verbs{"list": readOnly, "view": readOnly, "": readOnlyRule(), "*": rule{class: gatehouse.ClassWrite, risk: 45, what: "runs or toggles a workflow"}}),
		"secret":   sub(ghFlags, verbs{"list": readOnly, "": readOnlyRule(), "delete": destroys("deletes a secret"), "remove": destroys("deletes a secret"), "*": rule{class: gatehouse.ClassWrite, risk: 45, what: "sets a secret"}}),
		"variable": sub(ghFlags, verbs{"list": readOnly, "get": readOnly, "": readOnlyRule(), "delete": destroys("deletes a variable"), "*": writes("sets a variable")}),
		"cache":    sub(ghFlags, verbs{"list": readOnly, "": readOnlyRule(), "delete": destroys("deletes caches")}),
		"gist": sub(ghFlags, verbs{
			"list": readOnly, "view": readOnly, "": readOnlyRule(),
			"clone":  writes("copies a gist"),
			"create": irreversible("uploads files to a gist"),
			"delete": destroys("deletes a gist"),
			"*":      writes("edits a gist"),
		}),
		"label":     sub(ghFlags, verbs{"list": readOnly, "": readOnlyRule(), "delete": destroys("deletes a label"), "*": writes("edits labels")}),
		"ruleset":   sub(ghFlags, verbs{"list": readOnly, "view": readOnly, "check": readOnly, "": readOnlyRule()}),
		"search":    rule{class: gatehouse.ClassRead, risk: riskNetRead, what: "searches GitHub"},
		"browse":    readOnly,
		"status":    readOnly,
		"help":      readOnly,
		"version":   readOnly,
		"--version": readOnly,
		"auth":      sub(ghFlags, verbs{"status": readOnly, "token": readOnly, "": readOnlyRule(), "*": writes("changes GitHub credentials")}),
		"config":    sub(ghFlags, verbs{"get": readOnly, "list": readOnly, "": readOnlyRule(), "*": writes("changes gh configuration")}),
		"api":       by(ghAPI),
		"*":         runs("not in the catalogue"),
	}
}

func readOnlyRule() rule { return reads("prints usage") }

func ghRule(c *call) { c.dispatch(ghFlags, ghVerbs) }

func ghAPI(c *call) {
	opts, operands := restOpts(c, flags{short: "XfFHpqt", long: "method field raw-field header input jq template preview hostname cache"})
	method, explicit := value(opts, "-X", "--method")
	method = strings.ToUpper(method)
	if !explicit {
		method = "GET"
		if has(opts, "-f", "-F", "--field", "--raw-field", "--input") {
			method = "POST"
		}
	}
	c.target(vals(operands)...)
	if len(operands) > 0 && operands[0].val == "graphql" && !explicit {
		mutation := false
		for _, f := range values(opts, "-f", "-F", "--field", "--raw-field") {
			if strings.Contains(f, "mutation") {
				mutation = true
			}
		}
		if !mutation && !has(opts, "--input") {
			method = "GET"
		}
	}
	if method == "GET" || method == "HEAD" {
		c.is(gatehouse.ClassRead, riskNetRead, "gh api: reads from GitHub")
		return
	}
	c.is(gatehouse.ClassIrreversible, 90, "gh api: sends a %s request to GitHub", method)
}
