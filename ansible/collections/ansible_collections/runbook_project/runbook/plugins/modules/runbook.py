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
short_description: Apply, check or roll back a runbook (journaled, verified, reversible host setup)
description:
  - Runs a runbook on the target with the C(runbook) CLI. Each step is checked first, done only
    if needed, verified against the live kernel and journaled; a failed step is diagnosed.
  - C(state=present) runs the runbook. If this host's latest run of it was interrupted (killed,
    SIGTERM, a lost connection), that run is resumed from its journal first. The task is
    C(changed) if and only if a step changed something.
  - C(state=absent) undoes everything the runbook did on this host (C(runbook rollback --all
    --runbook NAME)) - every run of it with changes left, newest first. C(changed) if and only
    if something was undone. Running it again does nothing.
  - In check mode, C(state=present) runs C(runbook check), which only reads; the task is
    C(changed) if and only if a step does not hold (drift), and each step's diagnosis is
    returned. C(state=absent) reports whether a rollback would undo anything.
  - With C(confirm_within), C(state=present) makes the change provisional (C(runbook run
    --confirm-within)), like Juniper's C(commit confirmed) - unless a later task with
    C(state=confirmed) reaches the host within that time, a watchdog on the host rolls the run
    back by itself. So a host that a network change cut off reverts without anyone reaching it.
  - C(state=confirmed) keeps the change of this host's run of the runbook that awaits
    confirmation (C(runbook confirm RUN_ID)); C(changed) if it was confirmed now. It fails if the
    run was already reverted. Run it over a new connection (a C(reset_connection) meta task).
  - Invalid input (an unknown runbook or parameter, a bad value; the CLI's exit code 2) fails
    the task with the CLI's own message, and nothing on the host is changed.
version_added: "0.1.0"
author: runbook project
requirements:
  - runbook on the target (see C(ansible/install.yml) in the runbook repository), Node.js 20 or newer
  - root (or CAP_NET_ADMIN) on the target, e.g. C(become=true)
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
        commas; a null value (C(KEY: null)) leaves the runbook's default. Use the same values for
        C(present), check mode and C(absent).
    type: dict
    default: {}
  state:
    description:
      - C(present) applies the runbook; C(absent) rolls back every run of it on this host;
        C(confirmed) keeps a change made with C(confirm_within).
    type: str
    choices: [present, absent, confirmed]
    default: present
  executable:
    description:
      - How to run runbook on the target, split like a shell would (no shell is used), e.g.
        C(runbook) or C(node /opt/runbook/runbook.mjs).
    type: str
    default: runbook
  confirm_within:
    description:
      - For C(state=present), a deadline such as C(90), C(30s) or C(5m) - the run succeeds
        provisionally, and is rolled back on the host by itself unless a C(state=confirmed)
        task comes within that time.
    type: str
  state_dir:
    description:
      - The state dir holding the runs and journals on the target (C(--state-dir)). Default, the
        CLI's own (C(RUNBOOK_STATE_DIR), else its default).
    type: path
notes:
  - Supports check mode.
  - Every command runbook runs is journaled on the target; see C(runbook journal RUN_ID) there.
  - No option carries a secret, so no option is hidden with C(no_log); do not pass secrets as
    runbook parameters, since they are recorded in the target's journal.
"""

EXAMPLES = r"""
- name: Container networking, tutorial part 1, on every host
  runbook:
    name: single-container
    params:
      container: container1
      container_cidr: 172.16.0.2/24

- name: Did any host drift? (run with --check; changed = drift, nothing is changed)
  runbook:
    name: single-container

- name: Undo everything single-container did on these hosts
  runbook:
    name: single-container
    state: absent

- name: Apply with a safety net - reverted on the host in 5 minutes unless confirmed
  runbook:
    name: single-container
    confirm_within: 5m

- name: A new connection proves the host is still reachable
  meta: reset_connection

- name: Keep the change
  runbook:
    name: single-container
    state: confirmed

- name: runbook installed as a bundle elsewhere, with its own state dir
  runbook:
    name: /etc/runbook/runbooks/single-container.yaml
    executable: node /opt/runbook/runbook.mjs
    state_dir: /var/lib/runbook
"""

RETURN = r"""
run_id:
  description: The run that C(present) made (or, in check mode, nothing).
  returned: when a run was made
  type: str
  sample: 20261129T180241.123Z-1c16
status:
  description:
    - How the CLI ended - C(succeeded), C(failed), C(interrupted) for a run; C(ok), C(not-ok)
      for a check; C(rolled-back), C(failed), C(nothing) for C(absent).
  returned: always
  type: str
steps:
  description:
    - Each step with its outcome - C(ok) (already held), C(changed), C(failed), C(skipped) for a
      run; in check mode C(ok) or C(drift), with the cause and fix of a step that does not hold.
  returned: for present
  type: list
  elements: dict
  sample: [{"id": "namespace", "title": "Create the namespace container1", "outcome": "changed"}]
changed_steps:
  description: How many steps changed (present), or do not hold (check mode).
  returned: for present
  type: int
failure:
  description: The failed step, the check that failed, the diagnosed cause, the evidence and the fix.
  returned: when a step failed or, in check mode, the first step that does not hold
  type: dict
  sample: {"stepId": "ping-host-from-container", "title": "Ping 10.0.0.10 from container1", "cause": "the container container1 has no route back to the host 10.0.0.10", "fix": "ip -n container1 route add default via 172.16.0.2 dev ceth1"}
resumed:
  description: The interrupted run that was resumed before the run, with its outcome.
  returned: when an interrupted run was resumed
  type: dict
rolled_back:
  description: For absent, each run undone (newest first) with the steps undone.
  returned: for absent
  type: list
  elements: dict
awaiting_confirmation:
  description: For C(confirm_within), the deadline and the command that confirms on the host.
  returned: when the run awaits confirmation
  type: dict
  sample: {"deadline": "2026-11-29T18:07:41.123Z", "confirm": "runbook confirm 20261129T180241.123Z-1c16"}
msg:
  description: What happened, in words; on failure, the failed step, the cause and the fix, or the CLI's message.
  returned: always
  type: str
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
        # read-only, never does).
        for line in (err or "").splitlines():
            if line.startswith("warning: "):
                self.module.warn(line[len("warning: "):])
        return rc, parse_json_output(out), out, err

    def fail(self, what, rc, events, out, err, **result):
        """Fails the task with the CLI's own message (an `error` line), or its stderr."""
        error = last_event(events, "error")
        if error is not None:
            msg = error.get("message", "")
            if error.get("hint"):
                msg += " (hint: %s)" % error["hint"]
        else:
            msg = (err or out or "").strip() or "no output"
        self.module.fail_json(
            msg="runbook %s exited %s: %s" % (what, rc, msg),
            rc=rc,
            stderr=err,
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


def present(module, cli):
    name = module.params["name"]
    flags = set_flags(module.params["params"])
    result = {"changed": False}
    resumed_changed = 0

    # A run that was cut short is finished from its journal before a new one starts: a new run
    # would redo what it did, but only the old run's journal knows what it changed.
    mine = runs_here(cli, runbook_name(cli, name))
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

    within = module.params["confirm_within"]
    rc, events, out, err = cli.call(["run", name] + flags + (["--confirm-within", within] if within else []))
    end = last_event(events, "run-end")
    if end is None:
        cli.fail("run %s" % name, rc, events, out, err, **result)
    result.update(
        run_id=end.get("runId"),
        status=end.get("status"),
        steps=run_steps(end),
        changed_steps=end.get("changed", 0),
        commands=cli.commands,
    )
    result["changed"] = end.get("changed", 0) + resumed_changed > 0
    awaiting = last_event(events, "awaiting-confirmation")
    if awaiting is not None:
        result["awaiting_confirmation"] = {"deadline": awaiting.get("deadline"), "confirm": awaiting.get("confirm")}
    if rc == EXIT_OK and end.get("status") == "succeeded":
        result["msg"] = "run %s succeeded: %s step(s) changed" % (end.get("runId"), end.get("changed", 0))
        if awaiting is not None:
            result["msg"] += "; awaiting confirmation until %s, else rolled back" % awaiting.get("deadline")
        module.exit_json(**result)
    if end.get("failure"):
        result["failure"] = end["failure"]
        result["msg"] = "run %s: %s" % (end.get("runId"), failure_message(end["failure"]))
    else:
        result["msg"] = "run %s ended %s (exit %s)" % (end.get("runId"), end.get("status"), rc)
    module.fail_json(rc=rc, **result)


def check_present(module, cli):
    name = module.params["name"]
    rc, events, out, err = cli.call(["check", name] + set_flags(module.params["params"]))
    record = events[0] if len(events) == 1 and isinstance(events[0], dict) else {}
    if record.get("type") != "check" or rc not in (EXIT_OK, EXIT_STEP_FAILED):
        cli.fail("check %s" % name, rc, events, out, err)
    steps = []
    first_failure = None
    for s in record.get("steps", []):
        finding = (s.get("findings") or [{}])[0]
        step = {"id": s.get("step"), "title": s.get("title"), "outcome": "ok" if s.get("ok") else "drift"}
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
    result = {
        "changed": bool(drift),
        "status": record.get("status"),
        "steps": steps,
        "changed_steps": len(drift),
        "commands": cli.commands,
    }
    if record.get("status") == "interrupted":
        module.fail_json(msg="runbook check %s was interrupted" % name, **result)
    if drift:
        result["failure"] = first_failure
        result["msg"] = "%d step(s) do not hold (%s); first: %s" % (
            len(drift),
            ", ".join(drift),
            failure_message(first_failure),
        )
    else:
        result["msg"] = "all %d steps hold" % len(steps)
    module.exit_json(**result)


def absent(module, cli):
    name = module.params["name"]
    if module.check_mode:
        left = [r["id"] for r in runs_here(cli, runbook_name(cli, name)) if r.get("changesLeft")]
        module.exit_json(
            changed=bool(left),
            status="would-roll-back" if left else "nothing",
            rolled_back=[{"run_id": run_id} for run_id in reversed(left)],
            msg="would roll back %d run(s)" % len(left) if left else "nothing to roll back",
            commands=cli.commands,
        )
    rc, events, out, err = cli.call(["rollback", "--all", "--runbook", name])
    end = last_event(events, "rollback-all-end", "nothing")
    if end is None:
        cli.fail("rollback --all --runbook %s" % name, rc, events, out, err)
    if end["event"] == "nothing":
        module.exit_json(changed=False, status="nothing", rolled_back=[], msg=end.get("message"), commands=cli.commands)
    rolled_back = [
        {"run_id": r.get("runId"), "status": r.get("status"), "undone": r.get("undone", [])} for r in end.get("runs", [])
    ]
    result = {
        "changed": end.get("undone", 0) > 0 or bool(rolled_back),
        "status": end.get("status"),
        "rolled_back": rolled_back,
        "commands": cli.commands,
    }
    if rc == EXIT_OK and end.get("status") == "rolled-back":
        module.exit_json(msg="rolled back %d run(s): %d step(s) undone" % (len(rolled_back), end.get("undone", 0)), **result)
    module.fail_json(
        rc=rc,
        msg="rollback of run %s stopped at step %s: %s"
        % (end.get("failedRun"), end.get("failedStep"), end.get("message") or end.get("status")),
        **result
    )


def confirmed(module, cli):
    """Keeps the change of this host's latest run of the runbook awaiting confirmation."""
    name = module.params["name"]
    mine = runs_here(cli, runbook_name(cli, name))
    awaiting = [r for r in mine if r.get("status") == "awaiting-confirmation"]
    if not awaiting:
        latest = mine[-1] if mine else None
        status = latest.get("status") if latest else None
        if status == "confirmed":
            module.exit_json(changed=False, status="confirmed", run_id=latest["id"], msg="run %s was already confirmed" % latest["id"], commands=cli.commands)
        module.fail_json(
            msg="no run of %s awaits confirmation on this host%s"
            % (name, " (the latest, %s, is %s)" % (latest["id"], status) if latest else ""),
            status=status,
            commands=cli.commands,
        )
    run_id = awaiting[-1]["id"]
    if module.check_mode:
        module.exit_json(changed=True, status="would-confirm", run_id=run_id, msg="would confirm run %s" % run_id, commands=cli.commands)
    rc, events, out, err = cli.call(["confirm", run_id])
    event = last_event(events, "confirm")
    if event is None:
        cli.fail("confirm %s" % run_id, rc, events, out, err)
    kind = event.get("kind")
    if rc == EXIT_OK and kind in ("confirmed", "already-confirmed"):
        module.exit_json(
            changed=kind == "confirmed",
            status="confirmed",
            run_id=run_id,
            msg="run %s confirmed: the change stays" % run_id,
            commands=cli.commands,
        )
    module.fail_json(
        rc=rc,
        status=kind,
        run_id=run_id,
        msg="run %s was not confirmed in time: it was %s" % (run_id, "rolled back" if kind == "rolled-back" else "reverted"),
        commands=cli.commands,
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            params=dict(type="dict", default={}),
            state=dict(type="str", default="present", choices=["present", "absent", "confirmed"]),
            confirm_within=dict(type="str"),
            executable=dict(type="str", default="runbook"),
            state_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    cli = Cli(module)
    if module.params["state"] == "absent":
        absent(module, cli)
    elif module.params["state"] == "confirmed":
        confirmed(module, cli)
    elif module.check_mode:
        check_present(module, cli)
    else:
        present(module, cli)


if __name__ == "__main__":
    main()
