package shell

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// catalogue maps a program's base name to its rule. It is filled in init
// because some rules analyse the commands they run through it.
var catalogue map[string]rule

// readOnlyNames are programs that only read (or only print), whatever
// their arguments.
const readOnlyNames = `
ls ll dir vdir head tail grep egrep fgrep rg ag ack wc pwd whoami id groups logname users who w last lastlog
finger printenv which whereis type stat file du df ps pgrep pidof top htop btop atop uname arch nproc uptime free
vmstat iostat mpstat sar lsof lsblk blkid lscpu lsusb lspci lsmod lshw lsns lslocks modinfo findmnt diff cmp comm jq
cut tr less more most test [ [[ basename dirname realpath readlink sleep seq yes tac rev nl fold fmt column
paste join expand unexpand tree locale man info help apropos whatis tput clear stty tty getconf cal bc dc expr
factor numfmt md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum sum base64 base32 basenc xxd
hexdump od strings iconv zcat zgrep zless zdiff bzcat xzcat lz4cat zstdcat gzcat nslookup dig host ping ping6
traceroute tracepath mtr whois netstat ss arp getent pstree nvidia-smi sensors dmidecode tldr pv bat batcat
glow delta jless fx gron shellcheck mypy pylint flake8 pyflakes pycodestyle staticcheck govulncheck hadolint
yamllint actionlint markdownlint jsonlint xmllint cloc tokei scc envsubst ldd nm objdump readelf size hostid
dnsdomainname domainname
`

// builtinNames are shell builtins that change only the shell's own state.
const builtinNames = `
cd pushd popd dirs set unset shopt alias unalias readonly declare local typeset let shift getopts read umask
ulimit hash jobs wait exit return times fg bg disown logout enable caller compgen complete compopt suspend
`

func initCatalogue1() {
	shellAlone := runs("opens a shell as another user")
	none := reads("runs no command")
	catalogue = map[string]rule{
		// Wrappers: the command they run is analysed in their place.
		"sudo":       by(sudoRule),
		"doas":       wrap(flags{short: "uC"}, 0, shellAlone),
		"pkexec":     wrap(flags{long: "user"}, 0, shellAlone),
		"su":         by(suRule),
		"runuser":    by(suRule),
		"env":        by(envRule),
		"nice":       wrap(flags{short: "n", long: "adjustment"}, 0, reads("prints the niceness")),
		"ionice":     by(ioniceRule),
		"timeout":    wrap(flags{short: "sk", long: "signal kill-after"}, 1, none),
		"gtimeout":   wrap(flags{short: "sk", long: "signal kill-after"}, 1, none),
		"xargs":      by(xargsRule),
		"nohup":      wrap(flags{}, 0, none),
		"exec":       wrap(flags{short: "a"}, 0, reads("changes the shell's redirections")),
		"command":    by(commandRule),
		"builtin":    wrap(flags{}, 0, none),
		"time":       by(timeRule),
		"stdbuf":     wrap(flags{short: "ioe", long: "input output error"}, 0, none),
		"chroot":     by(chrootRule),
		"watch":      by(watchRule),
		"flock":      by(flockRule),
		"setsid":     wrap(flags{}, 0, none),
		"busybox":    wrap(flags{}, 0, reads("lists its applets")),
		"unbuffer":   wrap(flags{}, 0, none),
		"caffeinate": wrap(flags{short: "tw"}, 0, reads("keeps the machine awake")),
		"taskset":    by(tasksetRule),
		"chrt":       by(tasksetRule),
		"strace":     wrap(flags{short: "abeEIoOpPsSuUX"}, 0, runs("attaches to running processes")),
		"ltrace":     wrap(flags{short: "aAeEfilnopsSuwx"}, 0, runs("attaches to running processes")),
		"doppler":    by(func(c *call) { c.dispatch(flags{}, verbs{"run": afterDashes(), "*": runs("manages secrets")}) }),
		"op": by(func(c *call) {
			c.dispatch(flags{}, verbs{"run": afterDashes(), "read": readOnly, "*": runs("manages secrets")})
		}),
		"aws-vault": by(func(c *call) {
			c.dispatch(flags{}, verbs{"exec": afterDashes(), "list": readOnly, "*": writes("manages credentials")})
		}),
		"poetry": by(func(c *call) { c.dispatch(flags{}, poetryVerbs) }),
		"pipenv": by(func(c *call) { c.dispatch(flags{}, pipenvVerbs) }),
		"uv":     by(func(c *call) { c.dispatch(flags{}, uvVerbs) }),
		"bundle": by(func(c *call) { c.dispatch(flags{}, bundleVerbs) }),

		// Shells and interpreters.
		"eval":      by(evalRule),
		"source":    by(sourceRule),
		".":         by(sourceRule),
		"trap":      by(trapRule),
		"python":    interpreter("python", "c", "m", "WX"),
		"python3":   interpreter("python", "c", "m", "WX"),
		"python2":   interpreter("python", "c", "m", "WX"),
		"pypy":      interpreter("python", "c", "m", "WX"),
		"pypy3":     interpreter("python", "c", "m", "WX"),
		"node":      interpreter("JavaScript", "ep", "", "r"),
		"nodejs":    interpreter("JavaScript", "ep", "", "r"),
		"ruby":      interpreter("Ruby", "e", "", "IrC"),
		"perl":      interpreter("Perl", "eE", "", "I"),
		"php":       interpreter("PHP", "r", "", "cdz"),
		"lua":       interpreter("Lua", "e", "", "l"),
		"Rscript":   interpreter("R", "e", "", ""),
		"osascript": interpreter("AppleScript", "e", "", "l"),
		"deno":      runs("runs JavaScript, which analysis does not inspect"),
		"npx":       registryRun,
		"pnpx":      registryRun,
		"bunx":      registryRun,
		"uvx":       registryRun,
		"pipx": by(func(c *call) {
			c.dispatch(flags{}, verbTable("list environment --version", "install uninstall upgrade upgrade-all reinstall inject ensurepath", pkgWrite, verbs{"run": registryRun}))
		}),

		// Files.
		"rm":       by(rmRule),
		"rmdir":    writes("removes empty directories"),
		"unlink":   destroys("deletes a file"),
		"srm":      irreversible("destroys files beyond recovery"),
		"wipe":     irreversible("destroys files beyond recovery"),
		"find":     by(findRule),
		"dd":       by(ddRule),
		"shred":    by(shredRule),
		"truncate": by(truncateRule),
		"cp":       by(cpRule),
		"install":  by(cpRule),
		"mv":       by(mvRule),
		"ln":       writes("creates links (-f replaces existing files)"),
		"mkdir":    writes("creates directories"),
		"touch":    writes("creates files or updates their times"),
		"mktemp":   writes("creates a temporary file"),
		"chmod":    by(permRule),
		"chown":    by(permRule),
		"chgrp":    by(permRule),
		"chattr":   writes("changes file attributes"),
		"setfacl":  writes("changes file access lists"),
		"tee":      by(teeRule),
		"tar":      by(tarRule),
		"unzip":    by(unzipRule),
		"zip":      writes("creates or updates an archive"),
		"7z":       writes("creates or extracts archives"),
		"gzip":     by(compressor),
		"gunzip":   by(compressor),
		"bzip2":    by(compressor),
		"bunzip2":  by(compressor),
		"xz":       by(compressor),
		"unxz":     by(compressor),
		"zstd":     by(compressor),
		"unzstd":   by(compressor),
		"lz4":      by(compressor),
		"split":    writes("writes pieces of a file"),
		"csplit":   writes("writes pieces of a file"),
		"patch":    writes("edits files"),
		"sed":      by(sedRule),
		"awk":      by(awkRule),
		"gawk":     by(awkRule),
		"mawk":     by(awkRule),
		"nawk":     by(awkRule),
		"sort":     readOnly.then(unless(flags{short: "kStTo", long: "key buffer-size field-separator temporary-directory output"}, writes("-o overwrites its output file"), "-o", "--output")),
		"uniq":     by(uniqRule),
		"yq":       readOnly.then(unless(flags{}, writes("-i edits files in place"), "-i", "--inplace")),
		"cat":      by(catRule),
		"echo":     by(echoRule),
		"printf":   by(printfRule),
		"true":     reads("does nothing"),
		"false":    reads("does nothing"),
		":":        reads("does nothing"),
		"fd":       readOnly.then(unless(flags{}, runs("-x runs a command for each file found"), "-x", "--exec", "-X", "--exec-batch")),

		// Formatters and linters read unless told to rewrite files.
		"gofmt":         readOnly.then(unless(flags{}, writes("-w rewrites files"), "-w")),
		"goimports":     readOnly.then(unless(flags{}, writes("-w rewrites files"), "-w")),
		"shfmt":         readOnly.then(unless(flags{}, writes("-w rewrites files"), "-w", "--write")),
		"prettier":      readOnly.then(unless(flags{}, writes("--write rewrites files"), "-w", "--write")),
		"eslint":        readOnly.then(unless(flags{}, writes("--fix rewrites files"), "--fix")),
		"clang-format":  readOnly.then(unless(flags{}, writes("-i rewrites files"), "-i")),
		"autopep8":      readOnly.then(unless(flags{}, writes("-i rewrites files"), "-i", "--in-place")),
		"golangci-lint": readOnly.then(unless(flags{}, writes("--fix rewrites files"), "--fix")),
		"black":         by(checkOrWrite("--check", "--diff")),
		"isort":         by(checkOrWrite("--check", "--check-only", "-c", "--diff")),
		"rustfmt":       by(checkOrWrite("--check")),
		"ruff": by(func(c *call) {
			c.dispatch(flags{}, verbs{
				"check": readOnly.then(unless(flags{}, writes("--fix rewrites files"), "--fix")),
				"format": by(func(c *call) {
					opts, _ := flags{}.scan(c.rest)
					if has(opts, "--check", "--diff") {
						c.is(gatehouse.ClassRead, riskRead, "ruff format --check: reads only")
						return
					}
					c.is(gatehouse.ClassWrite, riskWrite, "ruff format: rewrites files")
				}),
				"*": readOnly,
			})
		}),

		// Disks and filesystems.
		"mkfs":       disk("formats a device, destroying its contents", flags{short: "t"}),
		"mke2fs":     disk("formats a device, destroying its contents", flags{short: "bCEfgGiIjJlLmMNoOrtTU"}),
		"mkswap":     disk("formats a device as swap, destroying its contents", flags{short: "pLU"}),
		"mkntfs":     disk("formats a device, destroying its contents", flags{}),
		"mkdosfs":    disk("formats a device, destroying its contents", flags{}),
		"wipefs":     by(wipefsRule),
		"fdisk":      disk("rewrites the partition table", flags{short: "bcHSuLx"}, "-l", "--list", "-V", "--version"),
		"sfdisk":     disk("rewrites the partition table", flags{short: "NXY"}, "-l", "--list", "-d", "--dump", "-J", "--json", "-s", "--show-size", "-V", "--verify", "--version"),
		"gdisk":      disk("rewrites the partition table", flags{}, "-l"),
		"sgdisk":     disk("rewrites the partition table", flags{}, "-p", "--print", "-v", "--verify", "-i", "--info"),
		"cfdisk":     disk("rewrites the partition table", flags{}),
		"parted":     by(partedRule),
		"blkdiscard": disk("discards every block of a device", flags{short: "olp"}),
		"cryptsetup": by(func(c *call) {
			c.dispatch(flags{}, verbs{
				"status": readOnly, "luksDump": readOnly, "isLuks": readOnly, "--version": readOnly,
				"luksFormat": rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "formats a device, destroying its contents"},
				"erase":      rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "erases the keys, making the data unreadable"},
				"luksErase":  rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "erases the keys, making the data unreadable"},
				"*":          writes("opens, closes or changes an encrypted device"),
			})
		}),
		"lvremove": irreversible("deletes logical volumes and their data"),
		"vgremove": irreversible("deletes volume groups and their data"),
		"pvremove": irreversible("wipes physical volume labels"),
		"zpool": by(func(c *call) {
			c.dispatch(flags{}, verbs{"list": readOnly, "status": readOnly, "get": readOnly, "iostat": readOnly, "history": readOnly,
				"destroy":    rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "destroys a pool and its data"},
				"labelclear": rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "wipes a device's pool label"},
				"*":          rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "changes a pool"}})
		}),
		"zfs": by(func(c *call) {
			c.dispatch(flags{}, verbs{"list": readOnly, "get": readOnly, "diff": readOnly,
				"destroy":  rule{class: gatehouse.ClassIrreversible, risk: riskMax, what: "destroys datasets or snapshots"},
				"rollback": destroysAll("discards everything written since a snapshot"),
				"*":        rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "changes datasets"}})
		}),
		"mount":  by(mountRule),
		"umount": by(mountRule),

		// System.
		"kill":      by(killRule),
		"pkill":     by(pkillRule),
		"killall":   by(pkillRule),
		"killall5":  irreversible("signals every process"),
		"shutdown":  by(shutdownRule),
		"reboot":    by(shutdownRule),
		"halt":      by(shutdownRule),
		"poweroff":  by(shutdownRule),
		"init":      by(initRule),
		"telinit":   by(initRule),
		"systemctl": by(systemctlRule),
		"service":   by(serviceRule),
		"journalctl": readOnly.then(unless(flags{}, destroys("--vacuum deletes old logs"),
			"--vacuum-size", "--vacuum-time", "--vacuum-files", "--rotate", "--flush")),
		"iptables":          by(iptablesRule),
		"ip6tables":         by(iptablesRule),
		"iptables-save":     by(iptablesRule),
		"ip6tables-save":    by(iptablesRule),
		"iptables-restore":  by(iptablesRule),
		"ip6tables-restore": by(iptablesRule),
		"nft":               by(nftRule),
		"ufw":               by(func(c *call) { c.dispatch(flags{}, ufwVerbs) }),
		"crontab":           by(crontabRule),
		"at":                runs("schedules commands read from standard input"),
		"batch":             runs("schedules commands read from standard input"),
		"ip":                by(ipRule),
		"sysctl":            by(sysctlRule),
		"date":              by(dateRule),
		"hostname":          by(hostnameRule),
		"dmesg":             readOnly.then(unless(flags{}, writes("-c clears the kernel log"), "-c", "-C", "--clear", "--read-clear")),
		"history":           readOnly.then(unless(flags{}, writes("-c or -d deletes shell history"), "-c", "-d")),
		"hostnamectl":       by(ctlRule),
		"timedatectl":       by(ctlRule),
		"localectl":         by(ctlRule),
		"useradd":           rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "creates a user"},
		"usermod":           rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "changes a user"},
		"passwd":            rule{class: gatehouse.ClassWrite, risk: riskUnknown, what: "changes a password"},
		"userdel":           by(userdelRule),
		"groupdel":          destroys("deletes a group"),
		"visudo":            rule{class: gatehouse.ClassWrite, risk: 50, what: "edits who may use sudo"},
		"open":              runs("opens a file or URL in another program"),
		"xdg-open":          runs("opens a file or URL in another program"),

		// Containers, clusters, infrastructure and clouds.
		"docker":         by(dockerRule),
		"podman":         by(dockerRule),
		"nerdctl":        by(dockerRule),
		"docker-compose": by(compose),
		"podman-compose": by(compose),
		"kubectl":        by(kubectlRule),
		"oc":             by(kubectlRule),
		"helm":           by(helmRule),
		"terraform":      by(tfRule),
		"tofu":           by(tfRule),
		"terragrunt":     by(tfRule),
		"pulumi":         by(func(c *call) { c.dispatch(flags{short: "sC", long: "stack cwd"}, pulumiVerbs) }),
		"cdk":            by(func(c *call) { c.dispatch(flags{}, cdkVerbs) }),
		"aws":            by(awsRule),
		"gcloud":         by(cloudRule),
		"az":             by(cloudRule),
		"doctl":          by(cloudRule),
		"heroku":         by(herokuRule),
		"gsutil":         by(func(c *call) { c.dispatch(flags{short: "ohu"}, gsutilVerbs) }),
		"vault":          by(vaultRule),

		// Version control.
		"git": by(gitRule),
		"gh":  by(ghRule),

		// Network.
		"curl":          by(curlRule),
		"wget":          by(wgetRule),
		"http":          by(httpieRule),
		"https":         by(httpieRule),
		"xh":            by(httpieRule),
		"xhs":           by(httpieRule),
		"ssh":           by(sshRule),
		"scp":           transfer(scpFlags),
		"rsync":         transfer(rsyncFlags),
		"sftp":          runs("transfers files interactively"),
		"nc":            by(netcat),
		"ncat":          by(netcat),
		"netcat":        by(netcat),
		"socat":         rule{class: gatehouse.ClassWrite, risk: 45, what: "opens network connections that can send data"},
		"telnet":        rule{class: gatehouse.ClassWrite, risk: 45, what: "opens a network connection that can send data"},
		"mail":          by(mailRule),
		"mailx":         by(mailRule),
		"s-nail":        by(mailRule),
		"sendmail":      by(mailRule),
		"mutt":          by(mailRule),
		"neomutt":       by(mailRule),
		"msmtp":         by(mailRule),
		"ssmtp":         by(mailRule),
		"swaks":         by(mailRule),
		"slack":         irreversible("sends a message"),
		"slack-cli":     irreversible("sends a message"),
		"slackcat":      irreversible("sends a message"),
		"telegram-send": irreversible("sends a message"),
		"wall":          irreversible("sends a message to every logged-in user"),
		"ntfy": by(func(c *call) {
			c.dispatch(flags{}, verbs{"subscribe": readOnly, "sub": readOnly, "*": irreversible("sends a notification")})
		}),

		// Databases.
		"psql":              by(psqlRule),
		"mysql":             by(mysqlRule),
		"mariadb":           by(mysqlRule),
		"sqlite3":           by(sqliteRule),
		"sqlite":            by(sqliteRule),
		"duckdb":            by(sqliteRule),
		"clickhouse-client": by(clickhouseRule),
		"clickhouse":        by(clickhouseRule),
		"cockroach":         by(cockroachRule),
		"mysqladmin":        by(mysqladminRule),
		"mariadb-admin":     by(mysqladminRule),
		"dropdb":            by(dropdbRule),
		"dropuser":          destroys("deletes a database role"),
		"createdb":          writes("creates a database"),
		"createuser":        writes("creates a database role"),
		"pg_restore":        by(pgRestoreRule),
		"pg_dump":           by(dumpRule),
		"pg_dumpall":        by(dumpRule),
		"mysqldump":         by(dumpRule),
		"mariadb-dump":      by(dumpRule),
		"redis-cli":         by(redisRule),
		"mongosh":           by(mongoRule),
		"mongo":             by(mongoRule),

		// Packages, builds, tests and publishing.
		"npm":   by(func(c *call) { c.dispatch(npmFlags, npmVerbs) }),
		"yarn":  by(func(c *call) { c.dispatch(npmFlags, jsVerbs) }),
		"pnpm":  by(func(c *call) { c.dispatch(npmFlags, jsVerbs) }),
		"bun":   by(func(c *call) { c.dispatch(npmFlags, jsVerbs) }),
		"pip":   by(func(c *call) { c.dispatch(flags{}, pipVerbs) }),
		"pip3":  by(func(c *call) { c.dispatch(flags{}, pipVerbs) }),
		"cargo": by(func(c *call) { c.dispatch(flags{short: "Z", long: "config color"}, cargoVerbs) }),
		"go":    by(func(c *call) { c.dispatch(flags{}, goVerbs) }),
		"gem":   by(func(c *call) { c.dispatch(flags{}, gemVerbs) }),
		"twine": by(func(c *call) { c.dispatch(flags{}, twineVerbs) }),
		"flit":  by(func(c *call) { c.dispatch(flags{}, verbs{"publish": published, "*": buildWrite}) }),
		"hatch": by(func(c *call) { c.dispatch(flags{}, verbs{"publish": published, "*": buildWrite}) }),
		"vsce": by(func(c *call) {
			c.dispatch(flags{}, verbs{"publish": published, "unpublish": unpublished, "ls": readOnly, "*": buildWrite})
		}),
		"apt":        by(aptRule),
		"apt-get":    by(aptRule),
		"aptitude":   by(aptRule),
		"dpkg":       by(dpkgRule),
		"yum":        by(func(c *call) { c.dispatch(flags{}, rpmVerbs) }),
		"dnf":        by(func(c *call) { c.dispatch(flags{}, rpmVerbs) }),
		"microdnf":   by(func(c *call) { c.dispatch(flags{}, rpmVerbs) }),
		"tdnf":       by(func(c *call) { c.dispatch(flags{}, rpmVerbs) }),
		"zypper":     by(func(c *call) { c.dispatch(flags{}, rpmVerbs) }),
		"pacman":     by(pacmanRule),
		"yay":        by(pacmanRule),
		"paru":       by(pacmanRule),
		"brew":       by(func(c *call) { c.dispatch(flags{}, brewVerbs) }),
		"snap":       by(func(c *call) { c.dispatch(flags{}, snapVerbs) }),
		"apk":        by(func(c *call) { c.dispatch(flags{}, apkVerbs) }),
		"conda":      by(func(c *call) { c.dispatch(flags{}, condaVerbs) }),
		"mamba":      by(func(c *call) { c.dispatch(flags{}, condaVerbs) }),
		"micromamba": by(func(c *call) { c.dispatch(flags{}, condaVerbs) }),
		"flatpak":    by(func(c *call) { c.dispatch(flags{}, flatpakVerbs) }),
		"composer":   by(func(c *call) { c.dispatch(flags{}, composerVerbs) }),
		"dotnet":     by(func(c *call) { c.dispatch(flags{}, dotnetVerbs) }),
		"make":       by(makeRule),
		"gmake":      by(makeRule),
		"just":       by(makeRule),
		"task":       by(makeRule),
		"ninja":      buildWrite,
		"cmake":      buildWrite,
		"meson":      buildWrite,
		"bazel":      buildWrite,
		"bazelisk":   buildWrite,
		"gradle":     by(gradleRule),
		"gradlew":    by(gradleRule),
		"mvn":        by(gradleRule),
		"mvnw":       by(gradleRule),
		"goreleaser": by(goreleaserRule),
		"pytest":     testWrite,
		"py.test":    testWrite,
		"tox":        testWrite,
		"nox":        testWrite,
		"jest":       testWrite,
		"vitest":     testWrite,
		"mocha":      testWrite,
		"rspec":      testWrite,
		"phpunit":    testWrite,
		"ctest":      testWrite,
		"gcc":        writes("compiles"),
		"g++":        writes("compiles"),
		"cc":         writes("compiles"),
		"c++":        writes("compiles"),
		"clang":      writes("compiles"),
		"clang++":    writes("compiles"),
		"rustc":      writes("compiles"),
		"javac":      writes("compiles"),
		"tsc":        writes("compiles"),
		"ssh-keygen": writes("creates or changes keys"),
		"openssl":    readOnly.then(unless(flags{single: true}, writes("writes keys or certificates"), "-out", "-keyout")),
		"vim":        runs("opens an editor"),
		"vi":         runs("opens an editor"),
		"nvim":       runs("opens an editor"),
		"nano":       runs("opens an editor"),
		"emacs":      runs("opens an editor"),
		"code":       runs("opens an editor"),
		"gpg":        writes("encrypts, decrypts or manages keys"),
	}
	for _, s := range shells {
		catalogue[s] = by(shellRule)
	}
	for _, n := range strings.Fields(readOnlyNames) {
		if _, ok := catalogue[n]; !ok {
			catalogue[n] = readOnly
		}
	}
	for _, n := range strings.Fields(builtinNames) {
		if _, ok := catalogue[n]; !ok {
			catalogue[n] = reads("changes only the shell's own state")
		}
	}
}

// lookup returns the rule of a program, including the families named by
// a prefix (mkfs.ext4, python3.12, pip3.11).
func lookup(name string) (rule, bool) {
	if r, ok := catalogue[name]; ok {
		return r, true
	}
	switch {
	case strings.HasPrefix(name, "mkfs."):
		return catalogue["mkfs"], true
	case versioned(name, "python"):
		return catalogue["python"], true
	case versioned(name, "pip"):
		return catalogue["pip"], true
	}
	return rule{}, false
}

// versioned reports whether name is prefix followed by a version such as
// 3.12.
func versioned(name, prefix string) bool {
	v, ok := strings.CutPrefix(name, prefix)
	if !ok || v == "" {
		return false
	}
	return strings.Trim(v, "0123456789.") == ""
}

// passThrough are filters whose output carries their input: a download
// piped through them is still a download.
var passThrough = map[string]bool{
	"tr": true, "head": true, "tail": true, "pv": true, "base64": true, "base32": true, "zcat": true, "gzcat": true,
	"bzcat": true, "xzcat": true, "zstdcat": true, "grep": true, "egrep": true, "fgrep": true, "cut": true, "rev": true,
	"tac": true, "sort": true, "iconv": true, "dos2unix": true, "fold": true, "xxd": true, "openssl": true, "gpg": true,
}

func checkOrWrite(check ...string) func(*call) {
	return func(c *call) {
		opts, _ := flags{}.scan(c.args)
		if has(opts, check...) {
			c.is(gatehouse.ClassRead, riskRead, "%s %s: reads only", c.name, check[0])
			return
		}
		c.is(gatehouse.ClassWrite, riskWrite, "%s: rewrites files", c.name)
	}
}

func unzipRule(c *call) {
	opts, _ := flags{short: "dx"}.scan(c.args)
	if has(opts, "-l", "-v", "-t", "-Z", "-p", "-c", "-z") {
		c.is(gatehouse.ClassRead, riskRead, "unzip: lists, tests or prints an archive")
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "unzip: extracts files, overwriting existing ones")
	if d, ok := value(opts, "-d"); ok {
		c.target(d)
	}
}

func catRule(c *call) {
	_, ops := flags{}.scan(c.args)
	c.is(gatehouse.ClassRead, riskRead, "cat: reads only")
	switch {
	case len(ops) == 0 || len(ops) == 1 && c.args[ops[0]].val == "-":
		c.out = c.x.in
	case len(ops) == 1:
		c.out = stream{kind: streamFile, text: c.args[ops[0]].val}
	}
}

func echoRule(c *call) {
	args := c.args
	for len(args) > 0 && (args[0].val == "-n" || args[0].val == "-e" || args[0].val == "-E" || args[0].val == "-ne" || args[0].val == "-en") {
		args = args[1:]
	}
	text, _, dl := joinArgs(args)
	c.is(gatehouse.ClassRead, riskRead, "%s: prints text", c.name)
	c.out = stream{kind: streamLiteral, text: text}
	if dl {
		c.out = stream{kind: streamDownload}
	}
}

func printfRule(c *call) {
	args := c.args
	if len(args) > 1 && args[0].val == "-v" {
		c.is(gatehouse.ClassRead, riskRead, "printf -v: sets a shell variable")
		return
	}
	if len(args) > 0 && args[0].val == "--" {
		args = args[1:]
	}
	c.is(gatehouse.ClassRead, riskRead, "printf: prints text")
	if len(args) == 0 {
		return
	}
	var b strings.Builder
	ansiC(&b, args[0].val)
	text := b.String()
	if len(args) > 1 {
		rest, _, _ := joinArgs(args[1:])
		text += " " + rest
	}
	c.out = stream{kind: streamLiteral, text: text}
	for _, a := range args {
		if a.dl {
			c.out = stream{kind: streamDownload}
		}
	}
}

func uniqRule(c *call) {
	_, ops := flags{short: "fsw", long: "skip-fields skip-chars check-chars group all-repeated"}.scan(c.args)
	if len(ops) > 1 {
		if e, ok := fileEffect(c.args[ops[1]].val, "uniq OUTPUT", false); ok {
			c.is(e.class, e.risk, "%s", e.reason)
			c.target(e.target)
			return
		}
	}
	c.is(gatehouse.ClassRead, riskRead, "uniq: reads only")
}

// ctlRule handles hostnamectl, timedatectl and localectl: status reads,
// set-… writes.
func ctlRule(c *call) {
	_, ops := flags{short: "HM", long: "host machine"}.scan(c.args)
	if len(ops) == 0 || strings.HasPrefix(c.args[ops[0]].val, "status") || strings.HasPrefix(c.args[ops[0]].val, "list") || c.args[ops[0]].val == "show" {
		c.is(gatehouse.ClassRead, riskRead, "%s: shows settings", c.name)
		return
	}
	c.is(gatehouse.ClassWrite, riskUnknown, "%s %s: changes system settings", c.name, c.args[ops[0]].val)
}

func userdelRule(c *call) {
	opts, ops := flags{}.scan(c.args)
	c.target(vals(pick(c.args, ops))...)
	if has(opts, "-r", "--remove") {
		c.is(gatehouse.ClassDestructive, riskHigh, "userdel -r: deletes a user with their home directory")
		return
	}
	c.is(gatehouse.ClassDestructive, riskDestructive, "userdel: deletes a user")
}
