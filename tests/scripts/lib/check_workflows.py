#!/usr/bin/env python3
"""Checks of action.yml and workflows/*.yml that GitHub's schema cannot express.

  check_workflows.py ROOT

action.yml:
  - the inputs and outputs the design names exist; every output maps a step output;
  - no `${{ }}` expression inside a `run:` script (an input would become shell code);
  - secret inputs reach the steps only through `env:`.
workflows/:
  - the reusable workflow is called on workflow_call, grants nothing at the top level, and
    each job asks only for what it needs: detect contents:read; plan adds pull-requests and
    id-token; apply adds deployments, runs in the environment's GitHub environment, and
    shares a per-environment concurrency group that never cancels a running apply;
  - plan is a matrix over detect's output;
  - each trigger workflow runs on pull_request and push for its branch and paths, calls the
    reusable workflow (copied as .github/workflows/mlinfra.yml), passes every secret it
    requires and grants no permission beyond the four;
  - no workflow runs on pull_request_target or workflow_run: both run with the repository's
    secrets and a write token for code a fork controls (docs/SECURITY.md, section 2).

Prints one line per problem and exits 1 if there is any.
"""
import os
import re
import sys

import yaml

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
problems = []


def problem(where, msg):
    problems.append(f"{where}: {msg}")


def load(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
        doc = yaml.safe_load(f)
    if isinstance(doc, dict) and True in doc:
        doc["on"] = doc.pop(True)
    return doc


ALLOWED = {"contents": "read", "pull-requests": "write", "id-token": "write", "deployments": "write"}
SECRET_INPUTS = {"github-token", "plan-key", "azure-storage-key", "azure-storage-sas-token"}


def check_action():
    rel = "action.yml"
    a = load(rel)
    inputs = a.get("inputs", {})
    for name in ["command", "environment", "working-directory", "plan-label", "github-token", "plan-key",
                 "azure-storage-account", "azure-storage-container", "azure-storage-endpoint",
                 "azure-client-id", "azure-tenant-id", "terraform-version"]:
        if name not in inputs:
            problem(rel, f"input {name} is missing")
    if not inputs.get("command", {}).get("required"):
        problem(rel, "input command must be required")
    outputs = a.get("outputs", {})
    for name in ["matrix", "skip", "environments", "has_changes", "add", "change", "destroy", "replace",
                 "plan_id", "comment_url", "applied", "service_ip", "service_url"]:
        if name not in outputs:
            problem(rel, f"output {name} is missing")
        elif outputs[name].get("value") != "${{ steps.agent.outputs.%s }}" % name:
            problem(rel, f"output {name} does not map steps.agent.outputs.{name}")
    runs = a.get("runs", {})
    if runs.get("using") != "composite":
        problem(rel, "runs.using must be composite")
    for step in runs.get("steps", []):
        sid = step.get("id", step.get("name"))
        if "${{" in str(step.get("run", "")):
            problem(rel, f"step {sid}: an expression inside run: would be pasted into the script")
        for key, value in step.items():
            if key == "env":
                continue
            for secret in SECRET_INPUTS:
                if f"inputs.{secret}" in str(value):
                    problem(rel, f"step {sid}: secret input {secret} used outside env:")
    script = os.path.join(ROOT, "scripts", "action.sh")
    if not os.access(script, os.X_OK):
        problem("scripts/action.sh", "missing or not executable")


def perms_ok(where, perms, wanted):
    if not isinstance(perms, dict):
        problem(where, f"permissions must be a map (is {perms!r})")
        return
    if perms != wanted:
        problem(where, f"permissions are {perms}, expected exactly {wanted}")


def check_reusable():
    rel = "workflows/mlinfra.yml"
    w = load(rel)
    on = w.get("on")
    call = on.get("workflow_call") if isinstance(on, dict) else None
    if call is None:
        problem(rel, "not a reusable workflow (on: workflow_call)")
        return set()
    if w.get("permissions") != {}:
        problem(rel, "top-level permissions must be {} (each job asks for its own)")
    jobs = w.get("jobs", {})
    for name in ["detect", "plan", "apply"]:
        if name not in jobs:
            problem(rel, f"job {name} is missing")
    if problems:
        return set()
    d, p, a = jobs["detect"], jobs["plan"], jobs["apply"]
    perms_ok(f"{rel} detect", d.get("permissions"), {"contents": "read"})
    perms_ok(f"{rel} plan", p.get("permissions"), {"contents": "read", "pull-requests": "write", "id-token": "write"})
    perms_ok(f"{rel} apply", a.get("permissions"), ALLOWED)
    if "pull_request" not in str(d.get("if", "")):
        problem(rel, "detect must run on pull requests only")
    if p.get("needs") != "detect" and p.get("needs") != ["detect"]:
        problem(rel, "plan must need detect")
    if "needs.detect.outputs.matrix" not in str(p.get("strategy", {}).get("matrix", "")):
        problem(rel, "plan's matrix must come from detect's output")
    if "push" not in str(a.get("if", "")):
        problem(rel, "apply must run on push only")
    env = a.get("environment")
    env_name = env.get("name") if isinstance(env, dict) else env
    if "inputs.environment" not in str(env_name):
        problem(rel, "apply must run in the GitHub environment named after the environment (protection rules)")
    conc = a.get("concurrency") or {}
    if "inputs.environment" not in str(conc.get("group", "")):
        problem(rel, "apply's concurrency group must be per environment")
    if conc.get("cancel-in-progress") is not False:
        problem(rel, "apply must never cancel a running apply (cancel-in-progress: false)")
    for job_name, job in jobs.items():
        commands = [s.get("with", {}).get("command") for s in job.get("steps", []) if "mlinfra-action" in str(s.get("uses", ""))]
        if not commands:
            problem(rel, f"job {job_name} does not run the mlinfra action")
        for s in job.get("steps", []):
            uses = str(s.get("uses", ""))
            if uses.startswith("actions/") and not re.search(r"@[0-9a-f]{40}$", uses):
                problem(rel, f"job {job_name}: {uses} is not pinned to a commit")
    return set((call.get("secrets") or {}).keys()), {k for k, v in (call.get("secrets") or {}).items() if v.get("required")}


# Events whose runs hold the base repository's secrets and a write token while acting on a
# fork's pull request (pull_request_target), or on what a fork's run produced (workflow_run).
FORBIDDEN_EVENTS = ["pull_request_target", "workflow_run"]


def events_of(on):
    """The event names of an `on:` value, in any of its three forms (name, list, map)."""
    if isinstance(on, str):
        return [on]
    if isinstance(on, list):
        return [str(e) for e in on]
    if isinstance(on, dict):
        return [str(e) for e in on]
    return []


def check_forbidden_events():
    folder = os.path.join(ROOT, "workflows")
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".yml", ".yaml")):
            continue
        rel = f"workflows/{name}"
        w = load(rel)
        if not isinstance(w, dict):
            problem(rel, "is not a YAML map")
            continue
        for event in events_of(w.get("on")):
            if event in FORBIDDEN_EVENTS:
                problem(rel, f"runs on {event}, which gives a fork's code the repository's secrets "
                             "and a write token; use pull_request")


def check_trigger(env, secrets, required):
    rel = f"workflows/{env}.yml"
    w = load(rel)
    on = w.get("on") or {}
    if not isinstance(on, dict):
        problem(rel, "on: must map each event to its branch and path filters")
        on = {}
    for event in ["pull_request", "push"]:
        ev = on.get(event)
        if not isinstance(ev, dict):
            problem(rel, f"does not run on {event}")
            continue
        if ev.get("branches") != [env]:
            problem(rel, f"{event} must filter on branch {env} (is {ev.get('branches')})")
        paths = ev.get("paths") or []
        for wanted in [f"environments/{env}/**", "modules/**", "policies/**"]:
            if wanted not in paths:
                problem(rel, f"{event} paths must include {wanted}")
        for pth in paths:
            if pth.startswith("environments/") and not pth.startswith(f"environments/{env}/"):
                problem(rel, f"{event} watches another environment's folder: {pth}")
    perms = w.get("permissions")
    if not isinstance(perms, dict) or any(ALLOWED.get(k) != v for k, v in perms.items()):
        problem(rel, f"permissions {perms} go beyond {ALLOWED}")
    jobs = w.get("jobs", {})
    calls = [j for j in jobs.values() if j.get("uses") == "./.github/workflows/mlinfra.yml"]
    if len(calls) != 1:
        problem(rel, "must call ./.github/workflows/mlinfra.yml exactly once")
        return
    job = calls[0]
    if (job.get("with") or {}).get("environment") != env:
        problem(rel, f"must pass environment: {env}")
    passed = set((job.get("secrets") or {}).keys()) if isinstance(job.get("secrets"), dict) else set()
    if job.get("secrets") == "inherit":
        problem(rel, "passes every secret (inherit); pass only the ones the workflow needs")
    for s in sorted(required - passed):
        problem(rel, f"does not pass the required secret {s}")
    for s in sorted(passed - secrets):
        problem(rel, f"passes {s}, which the reusable workflow does not declare")


def main():
    check_action()
    result = check_reusable()
    if result:
        secrets, required = result
        for env in sorted(os.listdir(os.path.join(ROOT, "environments"))):
            if os.path.exists(os.path.join(ROOT, "workflows", f"{env}.yml")):
                check_trigger(env, secrets, required)
            else:
                problem("workflows", f"no trigger workflow for environment {env}")
    # Last: check_reusable stops early when problems were found before it.
    check_forbidden_events()
    if problems:
        for p in problems:
            print(p)
        print(f"check_workflows: {len(problems)} problem(s)")
        return 1
    print("check_workflows: action.yml and workflows/ ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
