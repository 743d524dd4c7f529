#!/usr/bin/python
# -*- coding: utf-8 -*-
# runbook: host setup as journaled, verified, reversible steps. This module drives the
# runbook CLI on a target through its documented --json output (docs/json-output.md), never
# its human text.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: runbook
short_description: Apply, check, confirm or roll back a runbook (journaled, verified, reversible host setup)
description:
  - Runs a runbook on the target with the C(runbook) CLI. Each step is checked first, done only
    if needed, verified against the live kernel and journaled; a failed step is diagnosed.
  - C(state=present) runs the runbook. If this host's latest run of it was interrupted (killed,
    SIGTERM, a lost connection), that run is resumed from its journal first. The task is
    C(changed) if and only if a step changed something.
  - C(state=present) with other C(params) than the run of the runbook in effect on the host
    converges to them - that run's steps from the first whose commands change are undone, newest
    first, then the new run runs (C(runbook run --replace)); C(replace=false) refuses instead.
    Playing it again with the same C(params) changes nothing.
  - C(state=absent) undoes everything the runbook did on this host (C(runbook rollback --all
    --runbook NAME)) - every run of it with changes left, newest first. C(changed) if and only
    if something was undone. Running it again does nothing.
  - In check mode, C(state=present) runs C(runbook plan) and C(runbook check), which only read;
    the task is C(changed) if and only if a step does not hold (drift) or would be replaced
    (C(would_replace)), and each step's diagnosis is returned. A step that only checks (a ping)
    and does not hold is a failed verification (outcome C(failed)), not a change. What would
    refuse the run - a precondition about the host as found, a missing program, a replace that
    C(replace=false) forbids - fails the task (C(would_fail)), as the run would, with nothing
    changed. C(state=absent) reports whether a rollback would undo anything.
  - With C(confirm_within), C(state=present) makes the change provisional (C(runbook run
    --confirm-within)), like Juniper's C(commit confirmed) - unless a later task with
    C(state=confirmed) reaches the host within that time, the host rolls the run back by itself
    (a systemd timer where systemd is init, a watchdog process elsewhere). So a host that a
    network change cut off reverts without anyone reaching it.
  - Applying again while runs of the runbook await confirmation on the host joins them - one
    pending change, with the later of the two deadlines - so that confirming keeps the run that
    made the changes, not only the latest run (which, finding everything in place, changed
    nothing).
  - C(state=confirmed) keeps the change of every run of the runbook that awaits confirmation on
    the host (C(runbook confirm --runbook NAME)) and returns which runs it kept; C(changed) if it
    confirmed now. It fails if the runs were already reverted. Run it over a new connection (an
    C(ansible.builtin.meta) C(reset_connection) task).
  - C(state=extended) moves the deadline of those runs to C(confirm_within) from now (C(runbook
    confirm --extend)) instead of confirming them, like issuing C(commit confirmed) again.
  - With C(keep_runs), old run records of the runbook on the host are pruned after the task
    (C(runbook prune --keep N --runbook NAME)); never a run with changes in effect or awaiting
    confirmation. Pruning records never makes the task C(changed).
  - Invalid input (an unknown runbook or parameter, a bad value; the CLI's exit code 2) fails
    the task with the CLI's own message, and nothing on the host is changed.
version_added: "0.1.0"
author:
  - runbook project (!UNKNOWN)
requirements:
  - runbook on the target (see C(ansible/install.yml) in the runbook repository), Node.js 20 or newer
  - root (or CAP_NET_ADMIN) on the target, for example C(become=true)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - C(present) runs C(runbook plan) and C(runbook check), which only read; C(changed) means a
        step does not hold or would be replaced, a failed check-only step is not a change, and
        what would refuse the run fails the task (C(would_fail)).
      - C(absent), C(confirmed) and C(extended) say what they would do, reading the host's runs.
      - A run past its deadline is never reverted in check mode; the CLI's warning is returned.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - For C(present), C(before) and C(after) list the runbook's steps as they stood and as they
        stand - in check mode, the steps that would change (those that do not hold), with the
        cause the diagnosis found.
      - When the run replaces a run in effect with other C(params), C(before) and C(after) are
        the plan instead - each step, and the old and new commands of each step that changes.
      - For C(absent), the runs and steps a rollback undoes (or would undo).
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  name:
    description:
      - The runbook, as C(runbook run) takes it - a name from C(runbook list) or the path of a
        C(.yaml) file on the target.
    type: str
    required: true
  params:
    description:
      - Parameters of the runbook; each becomes C(--set KEY=VALUE). A list value is joined with
        commas; a key set to C(null) (or C(~)) leaves the runbook's default. Use the same values
        for C(present), check mode and C(absent).
    type: dict
    default: {}
  state:
    description:
      - C(present) applies the runbook; C(absent) rolls back every run of it on this host;
        C(confirmed) keeps a change made with C(confirm_within); C(extended) moves its deadline.
    type: str
    choices: [present, absent, confirmed, extended]
    default: present
  executable:
    description:
      - How to run runbook on the target, split like a shell would (no shell is used), for example
        C(runbook) or C(node /opt/runbook/runbook.mjs).
    type: str
    default: runbook
  confirm_within:
    description:
      - For C(state=present), a deadline such as C(90), C(30s) or C(5m) - the run succeeds
        provisionally, and is rolled back on the host by itself unless a C(state=confirmed)
        task comes within that time. The deadline starts on each host when its run ends, so
        with C(serial) it must cover the rest of the batch and the confirm task (docs/fleet.md).
      - For C(state=extended), the new deadline, counted from now. Required then.
    type: str
  state_dir:
    description:
      - The state dir holding the runs and journals on the target (C(--state-dir)). Default, the
        CLI's own (C(RUNBOOK_STATE_DIR), else its default).
    type: path
  replace:
    description:
      - For C(state=present), when a run of the runbook with other C(params) is in effect on the
        host, replace it (undo its steps that change, newest first, then run). C(false) fails
        the task instead, with the plan, and changes nothing.
    type: bool
    default: true
  rollback_on_failure:
    description:
      - For C(state=present), undo what the run changed if a step fails (C(runbook run
        --rollback-on-failure)); the task still fails, and returns C(rolled_back).
    type: bool
    default: false
  keep_runs:
    description:
      - After the task, prune the runbook's run records on the host, keeping the C(keep_runs)
        newest and every run that can still be rolled back or confirmed (C(runbook prune)).
        In check mode, only says what would be pruned. Default, prune nothing.
    type: int
notes:
  - Every command runbook runs is journaled on the target; see C(runbook journal RUN_ID) there.
  - No option carries a secret, so no option is hidden with C(no_log); do not pass secrets as
    runbook parameters, since they are recorded in the target's journal.
"""

EXAMPLES = r"""
- name: Container networking, tutorial part 1, on every host
  runbook_project.runbook.runbook:
    name: single-container
    params:
      container: container1
      container_cidr: 172.16.0.2/24

- name: Did any host drift? (run with --check --diff; changed = drift, nothing is changed)
  runbook_project.runbook.runbook:
    name: single-container

- name: Undo everything single-container did on these hosts
  runbook_project.runbook.runbook:
    name: single-container
    state: absent

- name: Apply with a safety net - reverted on the host in 5 minutes unless confirmed
  runbook_project.runbook.runbook:
    name: single-container
    confirm_within: 5m

- name: A new connection proves the host is still reachable
  ansible.builtin.meta: reset_connection

- name: Keep the change (every run of single-container awaiting confirmation on the host)
  runbook_project.runbook.runbook:
    name: single-container
    state: confirmed

- name: Or give the operator 10 more minutes to look
  runbook_project.runbook.runbook:
    name: single-container
    state: extended
    confirm_within: 10m

- name: Apply, and keep only the 5 newest records of runs that changed nothing
  runbook_project.runbook.runbook:
    name: single-container
    keep_runs: 5

- name: Move every host to another address (check mode with --diff first says what would change)
  runbook_project.runbook.runbook:
    name: single-container
    params:
      container_cidr: 172.16.0.3/24
      gateway: 172.16.0.3
    rollback_on_failure: true

- name: runbook installed as a bundle elsewhere, with its own state dir
  runbook_project.runbook.runbook:
    name: /etc/runbook/runbooks/single-container.yaml
    executable: node /opt/runbook/runbook.mjs
    state_dir: /var/lib/runbook
"""

RETURN = r"""
run_id:
  description:
    - The run C(present) made; for C(confirmed), the newest run kept.
  returned: when a run was made or confirmed
  type: str
  sample: 20261129T180241.123Z-1c16
status:
  description:
    - How the CLI ended - C(succeeded), C(failed), C(interrupted) for a run; C(ok), C(not-ok)
      for a check; C(rolled-back), C(failed), C(nothing), C(would-roll-back) for C(absent);
      C(confirmed), C(would-confirm), C(reverted), C(rolled-back), C(nothing) (no run awaits) for
      C(confirmed); C(extended), C(would-extend), C(nothing) for C(extended).
  returned: always
  type: str
  sample: succeeded
steps:
  description:
    - Each step with its outcome - C(ok) (already held), C(changed), C(failed), C(skipped) for a
      run; in check mode C(ok) or C(drift), with the check, cause and fix of a step that does not hold.
  returned: for present
  type: list
  elements: dict
  sample: [{"id": "namespace", "title": "Create the namespace container1", "outcome": "changed"}]
changed_steps:
  description: How many steps changed (present), or do not hold (check mode).
  returned: for present
  type: int
  sample: 8
failure:
  description: The failed step, the check that failed, the diagnosed cause, the evidence and the fix.
  returned: when a step failed or, in check mode, for the first step that does not hold
  type: dict
  sample: {"stepId": "ping-host-from-container", "title": "Ping 10.0.0.10 from container1", "cause": "the container container1 has no route back to the host 10.0.0.10", "fix": "ip -n container1 route add default via 172.16.0.2 dev ceth1"}
resumed:
  description: The interrupted run that was resumed before the run, with its outcome.
  returned: when an interrupted run was resumed
  type: dict
  sample: {"run_id": "20261129T180241.123Z-1c16", "status": "succeeded", "changed_steps": 5}
replaced:
  description: For present, the earlier runs replaced (their C(params) differed), each with its steps undone.
  returned: when a run with other params was replaced
  type: list
  elements: dict
  sample: [{"run_id": "20261129T180241.123Z-1c16", "undone": ["container-default-route", "host-route", "container-address"]}]
would_replace:
  description: In check mode, for present, the steps of the run in effect that a run would undo and do again.
  returned: in check mode, for present
  type: list
  elements: str
  sample: ["container-address", "host-route", "container-default-route"]
would_fail:
  description:
    - In check mode, for present, what would refuse the run, each in words - a precondition about
      the host as found (its steps, cause and fix), missing programs, a replace that
      C(replace=false) forbids, a later run in the way - and, when nothing would change, the
      check-only steps that fail.
  returned: in check mode, for present
  type: list
  elements: str
  sample: ["host-route: the host already routes 172.16.0.0/24 (or a network that holds it) through another link"]
rolled_back:
  description:
    - For absent, each run undone (newest first) with the steps undone; in check mode, the runs that would be.
    - For present with C(rollback_on_failure), the failed run's undo.
  returned: for absent, and for present when rollback_on_failure undid a failed run
  type: list
  elements: dict
  sample: [{"run_id": "20261129T180241.123Z-1c16", "status": "rolled-back", "undone": ["default-route", "host-route"]}]
awaiting_confirmation:
  description:
    - For C(confirm_within), the deadline, what reverts the run then (C(guard) - a systemd timer
      or a watchdog), the runs this one joined, and the command that confirms on the host (with
      the C(executable) and C(state_dir) of the task).
  returned: when the run awaits confirmation
  type: dict
  sample: {"deadline": "2026-11-29T18:07:41.123Z", "guard": {"kind": "watchdog", "pid": 4242, "startTime": "98765"}, "joined": [], "confirm": "runbook confirm --runbook single-container"}
confirmed:
  description:
    - For C(confirmed), every run kept (or, in check mode, that would be) - its id, and how many
      of its changed steps are in effect (null in check mode). A run with 0 changed nothing; it
      is kept with the others.
  returned: for confirmed
  type: list
  elements: dict
  sample: [{"run_id": "20261129T180241.123Z-1c16", "changes_in_effect": 8}, {"run_id": "20261129T180350.004Z-77aa", "changes_in_effect": 0}]
extended:
  description:
    - For C(extended), each run whose deadline moved, with its new and previous deadline (in
      check mode, the runs it would move, C(deadline) null).
  returned: for extended
  type: list
  elements: dict
  sample: [{"run_id": "20261129T180241.123Z-1c16", "deadline": "2026-11-29T18:17:41.123Z", "previous": "2026-11-29T18:07:41.123Z"}]
pruned:
  description: With C(keep_runs), the run records removed (in check mode, those that would be).
  returned: when keep_runs is set
  type: list
  elements: str
  sample: ["20261128T090000.000Z-0a1b"]
commands:
  description: Each runbook command the module ran on the host, as an argv.
  returned: always
  type: list
  elements: list
  sample: [["runbook", "runs", "--json"], ["runbook", "run", "single-container", "--json"]]
rc:
  description: The exit code of the runbook command that failed (1 a step failed, 2 invalid input, 3 locked, 130 interrupted).
  returned: on failure, when a runbook command exited non-zero
  type: int
  sample: 2
stderr:
  description: What that command printed on stderr.
  returned: on failure, when the CLI gave no JSON result
  type: str
  sample: "runbook: no run of single-container awaits confirmation"
msg:
  description: What happened, in words; on failure, the failed step, the cause and the fix, or the CLI's message.
  returned: always
  type: str
  sample: "run 20261129T180241.123Z-1c16 succeeded: 8 step(s) changed"
"""

import json
import shlex

from ansible.module_utils.basic import AnsibleModule

# The CLI's exit codes (runbook --help).
EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_LOCKED = 3
EXIT_INTERRUPTED = 130


class Cli(object):
    """The runbook CLI on this target, called with an argv (never a shell) and --json."""

    def __init__(self, module):
        self.module = module
        self.base = shlex.split(module.params["executable"])
        if not self.base:
            module.fail_json(msg="executable is empty: say how to run runbook on the target, e.g. 'runbook'")
        if module.params["state_dir"]:
            self.base += ["--state-dir", module.params["state_dir"]]
        self.commands = []

    def call(self, args):
        """Runs one command; returns (exit code, the parsed JSON output, stdout, stderr)."""
        argv = self.base + args + ["--json"]
        self.commands.append(argv)
        rc, out, err = self.module.run_command(argv, check_rc=False)
        # What the CLI warns about reaches the play: in check mode, say, that a run on the host is
        # past its --confirm-within deadline and awaits its automatic revert (which check mode,
        # read-only, never does), or that a run awaiting confirmation lost its watchdog.
        for line in (err or "").splitlines():
            if line.startswith("warning: "):
                self.module.warn(line[len("warning: "):])
        return rc, parse_json_output(out), out, err

    def command_line(self, args):
        """A command to run on the host by hand, with this task's executable and state dir."""
        return " ".join(shlex.quote(word) for word in self.base + args)

    def fail(self, what, rc, events, out, err, **result):
        """Fails the task with the CLI's own message (an `error` line), or its stderr."""
        error = last_event(events, "error")
        if error is not None:
            msg = error.get("message", "")
            if error.get("hint"):
                msg += " (hint: %s)" % error["hint"]
        else:
            msg = (err or out or "").strip() or "no output"
        result.setdefault("stderr", err)
        self.module.fail_json(
            msg="runbook %s exited %s: %s" % (what, rc, msg),
            rc=rc,
            commands=self.commands,
            **result
        )


def parse_json_output(out):
    """The events of `--json` output: one JSON object per line, or one document (check)."""
    text = out.strip()
    if not text:
        return []
    try:
        document = json.loads(text)
        return document if isinstance(document, list) else [document]
    except ValueError:
        pass
    events = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            events.append(json.loads(line))
        except ValueError:
            # Not ours to guess at: the contract is JSON lines; a stray line is ignored.
            continue
    return events


def last_event(events, *names):
    for event in reversed(events):
        if isinstance(event, dict) and event.get("event") in names:
            return event
    return None


def set_flags(params):
    """`params` as --set flags, in a stable order. A null value (`x: null`, `x: ~`, or a
    variable that is not set) means "the runbook's default": no flag at all, rather than an
    empty value the runbook would refuse or, worse, accept (issue 22)."""
    flags = []
    for key in sorted(params or {}):
        value = params[key]
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        flags += ["--set", "%s=%s" % (key, value)]
    return flags


def runbook_name(cli, name):
    """The runbook's own name (runs record it), for a name or a path to its file."""
    if "/" not in name and not name.endswith((".yaml", ".yml")):
        return name
    rc, events, out, err = cli.call(["show", name])
    shown = events[0] if events and isinstance(events[0], dict) else {}
    if rc != EXIT_OK or "runbook" not in shown:
        cli.fail("show %s" % name, rc, events, out, err)
    return shown["runbook"]


def runs_here(cli, name):
    """This host's runs of the runbook, oldest first (`runbook runs --json`)."""
    rc, events, out, err = cli.call(["runs"])
    if rc != EXIT_OK:
        cli.fail("runs", rc, events, out, err)
    return [r for r in events if isinstance(r, dict) and r.get("runbook") == name and r.get("thisHost")]


def failure_message(failure):
    if not failure:
        return ""
    parts = ["step %s failed: %s" % (failure.get("stepId"), failure.get("title", ""))]
    check = failure.get("check") or {}
    if check.get("reason"):
        parts.append("check: %s (%s)" % (" ".join(check.get("argv", [])), check["reason"]))
    parts.append("cause: %s" % (failure.get("cause") or "no diagnostic probe matched"))
    if failure.get("fix"):
        parts.append("fix: %s" % failure["fix"])
    return "; ".join(parts)


def run_steps(end):
    return [
        {"id": s.get("stepId"), "title": s.get("title"), "outcome": s.get("outcome")}
        for s in end.get("steps", [])
    ]


# --- diff mode ------------------------------------------------------------------------------
# The diff is made of steps: "before" says how each step of the runbook stood, "after" how it
# stands (or, in check mode, would stand once applied): the steps that change are the lines that
# differ. When the CLI can say what a run would change value by value (`runbook plan`, issue 23
# "Re-applying with new values converges"), plan_diff() is where its before/after plugs in:
# present() and check_present() already ask it first and fall back to the steps.


def plan_of(cli, name, flags):
    """`runbook plan --json`: what a run would change here (read-only); exit 1 if it would be refused."""
    rc, events, out, err = cli.call(["plan", name] + flags)
    plan = last_event(events, "plan")
    if plan is None or rc not in (EXIT_OK, EXIT_STEP_FAILED):
        cli.fail("plan %s" % name, rc, events, out, err)
    return plan


def plan_diff(plan):
    """The plan's own before/after when it replaces a run in effect: each step, and the old and
    new commands of each that changes; None when it replaces nothing (the steps say more)."""
    if not plan or not plan.get("replaces"):
        return None
    before, after = [], []
    for step in plan.get("steps") or []:
        step_id, action = step.get("stepId"), step.get("action")
        if action != "new":
            before.append(step_id)
        if action != "gone":
            after.append(step_id + (" (undone, then done again)" if action == "redo" else ""))
        change = step.get("change") or {}
        if action == "replace" and change:
            before += ["    %s: %s" % (change.get("phase"), " ".join(argv)) for argv in change.get("before") or []]
            after += ["    %s: %s" % (change.get("phase"), " ".join(argv)) for argv in change.get("after") or []]
    values = " ".join("%s=%s" % item for item in sorted((plan.get("params") or {}).items()))
    return {
        "before_header": "%s: %s" % (plan.get("runbook"), ", ".join("run %s" % r.get("runId") for r in plan["replaces"])),
        "after_header": "%s: %s" % (plan.get("runbook"), values),
        "before": steps_text(before),
        "after": steps_text(after),
    }


def describe_precondition(p):
    """A failing precondition in words, as the CLI says it: its steps, cause, evidence, fix."""
    text = "%s: %s" % (", ".join(p.get("steps") or []), p.get("cause") or "%s: %s" % (" ".join(p.get("argv") or []), p.get("reason")))
    if p.get("evidence"):
        text += " (found: %s)" % p["evidence"]
    if p.get("fix"):
        text += "; fix: %s" % p["fix"]
    return text


def refusals(plan, replace):
    """What would refuse a run, in words: the plan's preconditions, missing programs, blocks."""
    found = [describe_precondition(p) for p in plan.get("preconditions") or []]
    if plan.get("missingPrograms"):
        found.append("programs not found on PATH: %s" % ", ".join(plan["missingPrograms"]))
    if plan.get("blocked"):
        found.append(plan["blocked"])
    if plan.get("needsReplace") and not replace:
        runs = ", ".join(r.get("runId", "?") for r in plan.get("replaces") or [] if r.get("undo"))
        found.append("run %s, with other params, is in effect and replace is false" % runs)
    return found


def steps_text(lines):
    return "".join("%s\n" % line for line in lines)


def diff_of_run(end):
    """A run: each changed step was not in place before and is after; the others held throughout."""
    before, after = [], []
    for step in end.get("steps", []):
        step_id, outcome = step.get("stepId"), step.get("outcome")
        if outcome == "changed":
            before.append("%s: not in place" % step_id)
            after.append("%s: done (%s)" % (step_id, step.get("title")))
        elif outcome == "failed":
            before.append("%s: not in place" % step_id)
            after.append("%s: FAILED" % step_id)
        else:
            before.append("%s: holds" % step_id)
            after.append("%s: holds" % step_id)
    return {"before": steps_text(before), "after": steps_text(after)}


def diff_of_check(steps):
    """Check mode: a step that does not hold would be done by a run, and hold after it."""
    before, after = [], []
    for step in steps:
        if step["outcome"] == "drift":
            before.append("%s: does not hold: %s" % (step["id"], step.get("cause") or (step.get("check") or {}).get("reason", "")))
            after.append("%s: holds (done by the run: %s)" % (step["id"], step.get("title")))
        elif step["outcome"] == "failed":
            # A check-only step (a ping) that fails: no run would change it, so no diff line.
            line = "%s: check fails: %s" % (step["id"], step.get("cause") or (step.get("check") or {}).get("reason", ""))
            before.append(line)
            after.append(line)
        else:
            before.append("%s: holds" % step["id"])
            after.append("%s: holds" % step["id"])
    return {"before": steps_text(before), "after": steps_text(after)}


def diff_of_rollback(runs):
    """absent: each run's steps in effect before, none after."""
    before = []
    for run in runs:
        undone = run.get("undone")
        before.append("run %s%s" % (run["run_id"], ": " + ", ".join(undone) if undone else ": changes in effect"))
    return {"before": steps_text(before), "after": ""}


# --- states ---------------------------------------------------------------------------------


def present(module, cli):
    name = module.params["name"]
    flags = set_flags(module.params["params"])
    result = {"changed": False}
    resumed_changed = 0

    # A run that was cut short is finished from its journal before a new one starts: a new run
    # would redo what it did, but only the old run's journal knows what it changed.
    own_name = runbook_name(cli, name)
    mine = runs_here(cli, own_name)
    latest = mine[-1] if mine else None
    if latest is not None and latest.get("status") == "interrupted":
        rc, events, out, err = cli.call(["resume", latest["id"]])
        end = last_event(events, "run-end")
        if rc != EXIT_OK or end is None:
            if end is not None and end.get("failure"):
                module.fail_json(
                    msg="resuming the interrupted run %s: %s" % (latest["id"], failure_message(end["failure"])),
                    run_id=latest["id"],
                    status=end.get("status"),
                    steps=run_steps(end),
                    failure=end["failure"],
                    rc=rc,
                    commands=cli.commands,
                )
            cli.fail("resume %s" % latest["id"], rc, events, out, err)
        resumed_changed = end.get("changed", 0)
        result["resumed"] = {"run_id": latest["id"], "status": end.get("status"), "changed_steps": resumed_changed}

    # For --diff, the plan before the change (one read-only command more): what it replaces.
    planned = plan_of(cli, name, flags) if module._diff else None

    within = module.params["confirm_within"]
    args = ["run", name] + flags + (["--confirm-within", within] if within else [])
    if module.params["replace"]:
        args.append("--replace")
    if module.params["rollback_on_failure"]:
        args.append("--rollback-on-failure")
    rc, events, out, err = cli.call(args)
    end = last_event(events, "run-end")
    if end is None:
        # replace=false and a run with other params in effect: the CLI printed the plan first.
        refused = plan_diff(last_event(events, "plan"))
        if module._diff and refused is not None:
            result["diff"] = refused
        cli.fail("run %s" % name, rc, events, out, err, **result)
    replaced = (end.get("replaced") or {}).get("runs") or []
    if replaced:
        result["replaced"] = [{"run_id": r.get("runId"), "undone": r.get("undone", [])} for r in replaced]
    undone_by_replace = sum(len(r.get("undone", [])) for r in replaced)
    rollback = last_event(events, "rollback-end")
    if rollback is not None:
        result["rolled_back"] = [
            {"run_id": rollback.get("runId"), "status": rollback.get("status"), "undone": rollback.get("undone", [])}
        ]
    result.update(
        run_id=end.get("runId"),
        status=end.get("status"),
        steps=run_steps(end),
        changed_steps=end.get("changed", 0),
        commands=cli.commands,
    )
    # Undoing what the old params made changes the host too (count 3 -> 2 only undoes).
    result["changed"] = end.get("changed", 0) + resumed_changed + undone_by_replace > 0
    if module._diff:
        result["diff"] = plan_diff(planned) or diff_of_run(end)
    awaiting = last_event(events, "awaiting-confirmation")
    if awaiting is not None:
        result["awaiting_confirmation"] = {
            "deadline": awaiting.get("deadline"),
            "guard": awaiting.get("guard"),
            "joined": awaiting.get("joined", []),
            # The command for this task's executable and state dir, not the CLI's guess.
            "confirm": cli.command_line(["confirm", "--runbook", own_name]),
        }
    if rc == EXIT_OK and end.get("status") == "succeeded":
        prune(module, cli, own_name, result)
        result["msg"] = "run %s succeeded: %s step(s) changed" % (end.get("runId"), end.get("changed", 0))
        if replaced:
            result["msg"] += "; replaced %s (other params): %d step(s) undone first" % (
                ", ".join("run %s" % r.get("runId") for r in replaced),
                undone_by_replace,
            )
        if awaiting is not None:
            joined = awaiting.get("joined") or []
            result["msg"] += "; awaiting confirmation until %s, else rolled back" % awaiting.get("deadline")
            if joined:
                result["msg"] += " (with run %s, which it joined)" % ", ".join(j.get("runId") for j in joined)
        module.exit_json(**result)
    if end.get("failure"):
        result["failure"] = end["failure"]
        result["msg"] = "run %s: %s" % (end.get("runId"), failure_message(end["failure"]))
    elif (end.get("replaced") or {}).get("message"):
        result["msg"] = "run %s: the replace stopped: %s" % (end.get("runId"), end["replaced"]["message"])
    else:
        result["msg"] = "run %s ended %s (exit %s)" % (end.get("runId"), end.get("status"), rc)
    if rollback is not None:
        result["msg"] += "; rollback_on_failure: %s, %d step(s) undone" % (rollback.get("status"), len(rollback.get("undone", [])))
    module.fail_json(rc=rc, **result)


def check_present(module, cli):
    name = module.params["name"]
    flags = set_flags(module.params["params"])
    plan = plan_of(cli, name, flags)
    check_only = set(s.get("stepId") for s in plan.get("steps") or [] if s.get("checkOnly"))
    rc, events, out, err = cli.call(["check", name] + flags)
    record = events[0] if len(events) == 1 and isinstance(events[0], dict) else {}
    if record.get("type") != "check" or rc not in (EXIT_OK, EXIT_STEP_FAILED):
        cli.fail("check %s" % name, rc, events, out, err)
    steps = []
    first_failure = None
    for s in record.get("steps", []):
        finding = (s.get("findings") or [{}])[0]
        # A step that only checks (a ping) changes nothing: when it does not hold, that is a
        # failed verification, not a change a run would make.
        missing = "failed" if s.get("step") in check_only else "drift"
        step = {"id": s.get("step"), "title": s.get("title"), "outcome": "ok" if s.get("ok") else missing}
        if not s.get("ok"):
            step.update(check=s.get("check"), cause=finding.get("cause"), fix=finding.get("fix"))
            if first_failure is None:
                first_failure = {
                    "stepId": s.get("step"),
                    "title": s.get("title"),
                    "check": s.get("check"),
                    "cause": finding.get("cause"),
                    "evidence": finding.get("evidence"),
                    "fix": finding.get("fix"),
                }
        steps.append(step)
    drift = [s["id"] for s in steps if s["outcome"] == "drift"]
    failed = [s for s in steps if s["outcome"] == "failed"]
    would_replace = [s.get("stepId") for s in plan.get("steps") or [] if s.get("undone")]
    would_fail = refusals(plan, module.params["replace"])
    # With nothing to change, a run would end at the first check that fails, changing nothing
    # (unless a precondition named above refuses it first, for the same reason).
    refused = set(step for p in plan.get("preconditions") or [] for step in p.get("steps") or [])
    if not drift and not would_replace:
        would_fail += [
            "step %s: verification failed: %s" % (s["id"], s.get("cause") or "no diagnostic probe matched")
            for s in failed
            if s["id"] not in refused
        ]
    result = {
        "changed": bool(drift or would_replace),
        "status": record.get("status"),
        "steps": steps,
        "changed_steps": len(drift),
        "would_replace": would_replace,
        "would_fail": would_fail,
        "commands": cli.commands,
    }
    if module._diff:
        result["diff"] = plan_diff(plan) or diff_of_check(steps)
    if record.get("status") == "interrupted":
        module.fail_json(msg="runbook check %s was interrupted" % name, **result)
    prune(module, cli, runbook_name(cli, name), result)
    parts = []
    if would_replace:
        replaced_runs = ", ".join("run %s" % r.get("runId") for r in plan.get("replaces") or [] if r.get("undo"))
        parts.append("would replace steps %s of %s (other params)" % (", ".join(would_replace), replaced_runs))
    if drift:
        parts.append("%d step(s) do not hold (%s); first: %s" % (len(drift), ", ".join(drift), failure_message(first_failure)))
    if drift or failed:
        result["failure"] = first_failure
    if failed:
        parts.append("%d check(s) fail (%s)" % (len(failed), ", ".join(s["id"] for s in failed)))
    if would_fail:
        result["msg"] = "would fail: %s" % "; ".join(would_fail) + (" (%s)" % "; ".join(parts) if parts else "")
        module.fail_json(**result)
    result["msg"] = "; ".join(parts) if parts else "all %d steps hold" % len(steps)
    module.exit_json(**result)


def absent(module, cli):
    name = module.params["name"]
    if module.check_mode:
        own_name = runbook_name(cli, name)
        left = [r["id"] for r in runs_here(cli, own_name) if r.get("changesLeft")]
        result = {
            "changed": bool(left),
            "status": "would-roll-back" if left else "nothing",
            "rolled_back": [{"run_id": run_id} for run_id in reversed(left)],
            "msg": "would roll back %d run(s)" % len(left) if left else "nothing to roll back",
            "commands": cli.commands,
        }
        if module._diff:
            result["diff"] = diff_of_rollback(result["rolled_back"])
        prune(module, cli, own_name, result)
        module.exit_json(**result)
    rc, events, out, err = cli.call(["rollback", "--all", "--runbook", name])
    end = last_event(events, "rollback-all-end", "nothing")
    if end is None:
        cli.fail("rollback --all --runbook %s" % name, rc, events, out, err)
    if end["event"] == "nothing":
        result = {"changed": False, "status": "nothing", "rolled_back": [], "msg": end.get("message"), "commands": cli.commands}
        prune(module, cli, runbook_name(cli, name), result)
        module.exit_json(**result)
    rolled_back = [
        {"run_id": r.get("runId"), "status": r.get("status"), "undone": r.get("undone", [])} for r in end.get("runs", [])
    ]
    result = {
        "changed": end.get("undone", 0) > 0 or bool(rolled_back),
        "status": end.get("status"),
        "rolled_back": rolled_back,
        "commands": cli.commands,
    }
    if module._diff:
        result["diff"] = diff_of_rollback(rolled_back)
    if rc == EXIT_OK and end.get("status") == "rolled-back":
        prune(module, cli, runbook_name(cli, name), result)
        module.exit_json(msg="rolled back %d run(s): %d step(s) undone" % (len(rolled_back), end.get("undone", 0)), **result)
    module.fail_json(
        rc=rc,
        msg="rollback of run %s stopped at step %s: %s"
        % (end.get("failedRun"), end.get("failedStep"), end.get("message") or end.get("status")),
        **result
    )


def awaiting_here(cli, name):
    """This host's runs of the runbook awaiting confirmation, and its latest run."""
    mine = runs_here(cli, name)
    return [r for r in mine if r.get("status") == "awaiting-confirmation"], (mine[-1] if mine else None)


def confirmed(module, cli):
    """Keeps the change of every run of the runbook awaiting confirmation here (by change, not by recency)."""
    name = runbook_name(cli, module.params["name"])
    if module.check_mode:
        awaiting, latest = awaiting_here(cli, name)
        if not awaiting:
            status = latest.get("status") if latest else None
            module.exit_json(
                changed=False,
                status=status or "nothing",
                confirmed=[],
                msg="no run of %s awaits confirmation on this host%s" % (name, " (the latest is %s)" % status if status else ""),
                commands=cli.commands,
            )
        module.exit_json(
            changed=True,
            status="would-confirm",
            run_id=awaiting[-1]["id"],
            confirmed=[{"run_id": r["id"], "changes_in_effect": None} for r in awaiting],
            msg="would confirm run(s) %s" % ", ".join(r["id"] for r in awaiting),
            commands=cli.commands,
        )
    rc, events, out, err = cli.call(["confirm", "--runbook", name])
    event = last_event(events, "confirm")
    if event is None:
        cli.fail("confirm --runbook %s" % name, rc, events, out, err)
    kind = event.get("kind")
    if rc == EXIT_OK and kind == "confirmed":
        runs = [{"run_id": r.get("runId"), "changes_in_effect": r.get("changesInEffect")} for r in event.get("runs", [])]
        kept = ", ".join(
            "%s (%s)" % (r["run_id"], "%s changed step(s) kept" % r["changes_in_effect"] if r["changes_in_effect"] else "changed nothing")
            for r in runs
        )
        module.exit_json(
            changed=True,
            status="confirmed",
            run_id=event.get("runId"),
            confirmed=runs,
            msg="confirmed before the deadline %s, the change stays: run %s" % (event.get("deadline"), kept),
            commands=cli.commands,
        )
    if rc == EXIT_OK and kind == "nothing":
        module.exit_json(changed=False, status="nothing", confirmed=[], msg=event.get("message"), commands=cli.commands)
    if rc == EXIT_OK and kind == "already-confirmed":
        module.exit_json(
            changed=False,
            status="confirmed",
            run_id=event.get("runId"),
            confirmed=[],
            msg="run %s was already confirmed (at %s)" % (event.get("runId"), event.get("at")),
            commands=cli.commands,
        )
    module.fail_json(
        rc=rc,
        status=kind,
        run_id=event.get("runId"),
        msg="run %s was not confirmed in time: it was %s"
        % (event.get("runId"), "rolled back" if kind == "rolled-back" else "reverted (not confirmed by %s)" % event.get("deadline")),
        commands=cli.commands,
    )


def extended(module, cli):
    """Moves the deadline of every run of the runbook awaiting confirmation here."""
    name = runbook_name(cli, module.params["name"])
    within = module.params["confirm_within"]
    if module.check_mode:
        awaiting, latest = awaiting_here(cli, name)
        module.exit_json(
            changed=bool(awaiting),
            status="would-extend" if awaiting else "nothing",
            extended=[{"run_id": r["id"], "deadline": None, "previous": r.get("confirmBy")} for r in awaiting],
            msg="would move the deadline of run(s) %s to %s from now" % (", ".join(r["id"] for r in awaiting), within)
            if awaiting
            else "no run of %s awaits confirmation on this host" % name,
            commands=cli.commands,
        )
    rc, events, out, err = cli.call(["confirm", "--runbook", name, "--extend", within])
    event = last_event(events, "extend")
    if event is None:
        cli.fail("confirm --runbook %s --extend %s" % (name, within), rc, events, out, err)
    if rc == EXIT_OK and event.get("kind") == "nothing":
        module.exit_json(changed=False, status="nothing", extended=[], msg=event.get("message"), commands=cli.commands)
    if event.get("kind") != "extended":
        module.fail_json(
            rc=rc,
            status=event.get("kind"),
            run_id=event.get("runId"),
            msg="run %s does not await confirmation (%s): there is no deadline to move" % (event.get("runId"), event.get("kind")),
            commands=cli.commands,
        )
    runs = [
        {"run_id": r.get("runId"), "deadline": r.get("deadline"), "previous": r.get("previous")} for r in event.get("runs", [])
    ]
    module.exit_json(
        changed=bool(runs),
        status="extended",
        extended=runs,
        msg="deadline moved to %s for run(s) %s" % (runs[0]["deadline"] if runs else "-", ", ".join(r["run_id"] for r in runs)),
        commands=cli.commands,
    )


def prune(module, cli, name, result):
    """With keep_runs: prunes the runbook's old run records here (says what would go in check mode)."""
    keep = module.params["keep_runs"]
    if keep is None:
        return
    args = ["prune", "--runbook", name, "--keep", str(keep)] + (["--dry-run"] if module.check_mode else [])
    rc, events, out, err = cli.call(args)
    event = last_event(events, "prune")
    if rc != EXIT_OK or event is None:
        cli.fail(" ".join(args), rc, events, out, err, **result)
    result["pruned"] = [r.get("runId") for r in event.get("pruned", [])]
    result["commands"] = cli.commands


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            params=dict(type="dict", default={}),
            state=dict(type="str", default="present", choices=["present", "absent", "confirmed", "extended"]),
            confirm_within=dict(type="str"),
            executable=dict(type="str", default="runbook"),
            state_dir=dict(type="path"),
            keep_runs=dict(type="int"),
            replace=dict(type="bool", default=True),
            rollback_on_failure=dict(type="bool", default=False),
        ),
        required_if=[("state", "extended", ["confirm_within"])],
        supports_check_mode=True,
    )
    if module.params["keep_runs"] is not None and module.params["keep_runs"] < 0:
        module.fail_json(msg="keep_runs must be 0 or more, not %s" % module.params["keep_runs"])
    cli = Cli(module)
    state = module.params["state"]
    if state == "absent":
        absent(module, cli)
    elif state == "confirmed":
        confirmed(module, cli)
    elif state == "extended":
        extended(module, cli)
    elif module.check_mode:
        check_present(module, cli)
    else:
        present(module, cli)


if __name__ == "__main__":
    main()
