#!/usr/bin/python
# Copyright: the moat authors. SPDX-License-Identifier: Apache-2.0
"""Ansible module `moat`: the host's guest networks as a moat configuration says."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: moat
short_description: Keep a host's isolated guest networks as a moat configuration says
description:
  - Runs C(moat plan) to learn what would change, and C(moat apply) (or C(moat destroy)) only when
    something would. C(changed) is true only when the plan was not empty.
  - Check mode runs C(moat plan) (or C(moat plan --destroy)) and touches nothing.
  - Diff mode returns the plan's text.
options:
  src:
    description:
      - A moat file, or a directory of C(*.yaml) files, on the target.
      - Without it, moat reads C(/etc/moat/moat.yaml) and C(/etc/moat/moat.d/*.yaml).
      - With O(state=absent) and no O(src), every network moat owns is removed (C(moat destroy --all)).
    type: path
  state:
    description: C(present) applies the configuration; C(absent) removes its networks.
    type: str
    choices: [present, absent]
    default: present
  binary:
    description: The moat binary; by default C(moat) found on the target's PATH.
    type: path
  lock_timeout:
    description: Seconds to wait for another moat to finish (C(--lock-timeout)); by default moat's own, 0.
    type: float
notes:
  - moat's own environment variables (C(MOAT_STATE_DIR), C(MOAT_RUN_DIR)) reach it through the
    task's C(environment).
"""

EXAMPLES = r"""
- name: The lab networks, from the directory the play copied
  moat:
    src: /etc/moat/moat.d

- name: Remove every network moat made
  moat:
    state: absent
"""

RETURN = r"""
plan:
  description: The plan's text, as C(moat plan) prints it.
  returned: always
  type: str
exit_code:
  description: The exit code of the last moat command (C(plan --detailed-exitcode) gives 2 for changes).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            binary=dict(type="path"),
            lock_timeout=dict(type="float"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    binary = params["binary"] or module.get_bin_path("moat", required=True)
    files = [params["src"]] if params["src"] else []
    absent = params["state"] == "absent"
    environment = {"NO_COLOR": "1"}

    def run(argv):
        rc, out, err = module.run_command([binary] + argv, environ_update=environment)
        return rc, out, err

    def fail(what, rc, out, err):
        # moat's stderr says it for people: the diagnostics, then `moat: error: ...`.
        message = err.strip() or out.strip() or "moat exited %d" % rc
        module.fail_json(msg="moat %s failed: %s" % (what, message), rc=rc, stdout=out, stderr=err)

    plan_argv = ["plan"] + files + ["--detailed-exitcode"]
    if absent:
        plan_argv += ["--destroy"] + ([] if files else ["--all"])
    rc, plan, err = run(plan_argv)
    if rc not in (0, 2):
        fail("plan", rc, plan, err)
    changed = rc == 2
    result = dict(changed=changed, plan=plan, exit_code=rc)
    if module._diff and changed:
        result["diff"] = dict(prepared=plan)
    if not changed or module.check_mode:
        module.exit_json(**result)

    argv = (["destroy"] + (files or ["--all"]) if absent else ["apply"] + files) + ["--auto-approve"]
    if params["lock_timeout"] is not None:
        argv += ["--lock-timeout", str(params["lock_timeout"])]
    rc, out, err = run(argv)
    if rc != 0:
        fail("destroy" if absent else "apply", rc, out, err)
    result.update(exit_code=rc, stdout=out)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
