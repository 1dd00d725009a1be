#!/usr/bin/env bash
# Mutation spot check of the critical rules: applies each mutation of tests/mutations.json
# (a plausible bug in one rule) on its own, in a scratch worktree of HEAD, rebuilds, and runs
# the tests named for it. A mutation the tests do not catch "survives"; aim for none.
#
#   scripts/mutate.sh [NAME...]     default: every mutation
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
exec /usr/bin/python3 - "$@" <<'PY'
import json, os, subprocess, sys, time

repo = os.getcwd()
work = os.path.join(repo, "build-mutate", "tree")
mutations = json.load(open(os.path.join(repo, "tests", "mutations.json")))
wanted = set(sys.argv[1:])
if wanted:
    mutations = [m for m in mutations if m["name"] in wanted]

def run(cmd, cwd, env=None, timeout=3600):
    return subprocess.run(cmd, cwd=cwd, env=env, shell=isinstance(cmd, str), capture_output=True, text=True,
                          timeout=timeout)

# A scratch checkout of what is committed, so the working tree is never touched.
if os.path.isdir(work):
    run(["git", "worktree", "remove", "--force", work], repo)
os.makedirs(os.path.dirname(work), exist_ok=True)
r = run(["git", "worktree", "add", "--detach", work, "HEAD"], repo)
if r.returncode != 0:
    sys.exit("git worktree add failed: " + r.stderr)
js_modules = os.path.join(repo, "tests", "integration", "js", "node_modules")
if os.path.isdir(js_modules):
    os.symlink(js_modules, os.path.join(work, "tests", "integration", "js", "node_modules"))
env = dict(os.environ, DESPATCH_BUILD_DIR="build", DESPATCH_BENCH="OFF",
           DESPATCH_BIN=os.path.join(work, "build", "despatch"))

def build():
    return run(["scripts/build.sh", "despatch", "unit_tests"], work, env)

if build().returncode != 0:
    sys.exit("the unmutated tree does not build")
survivors, broken = [], []
for m in mutations:
    path = os.path.join(work, m["file"])
    original = open(path).read()
    if original.count(m["from"]) != 1:
        broken.append(m["name"])
        print("%-28s does not apply (its text is not in %s exactly once)" % (m["name"], m["file"]))
        continue
    open(path, "w").write(original.replace(m["from"], m["to"]))
    started = time.monotonic()
    try:
        b = build()
        if b.returncode != 0:
            broken.append(m["name"])
            print("%-28s does not build" % m["name"])
            continue
        t = run(m["test"], work, env)
        verdict = "killed" if t.returncode != 0 else "SURVIVED"
        if t.returncode == 0:
            survivors.append(m["name"])
        print("%-28s %-8s (%.0fs) %s" % (m["name"], verdict, time.monotonic() - started, m["why"]))
    finally:
        open(path, "w").write(original)
build()
run(["git", "worktree", "remove", "--force", work], repo)
print("%d mutations, %d killed, %d survived%s" % (len(mutations), len(mutations) - len(survivors) - len(broken),
                                                  len(survivors), ", %d did not apply" % len(broken) if broken else ""))
sys.exit(1 if survivors or broken else 0)
PY
