"""The AWX content under awx/ is what AWX and awx.awx take, and agrees with the playbooks and roles.

AWX itself is not available here, so this checks the structure AWX validates on load (credential
type inputs and injectors, survey specs), the option names awx.awx's modules accept, and the
links between the files: templates name playbooks that exist, survey answers reach role
variables the roles' argument_specs declare, the workflow and schedules name templates defined here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"
PLAYBOOKS = ROOT / "playbooks"

# Options of awx.awx's modules (awx_collection/plugins/modules/*.py, AWX 24.x): a key they do not
# know would make the module fail.
CREDENTIAL_TYPE_OPTIONS = {"name", "new_name", "description", "kind", "inputs", "injectors", "state"}
JOB_TEMPLATE_OPTIONS = {
    "allow_simultaneous", "ask_credential_on_launch", "ask_diff_mode_on_launch", "ask_execution_environment_on_launch",
    "ask_forks_on_launch", "ask_instance_groups_on_launch", "ask_inventory_on_launch", "ask_job_slice_count_on_launch",
    "ask_job_type_on_launch", "ask_labels_on_launch", "ask_limit_on_launch", "ask_scm_branch_on_launch",
    "ask_skip_tags_on_launch", "ask_tags_on_launch", "ask_timeout_on_launch", "ask_variables_on_launch",
    "ask_verbosity_on_launch", "become_enabled", "copy_from", "credentials", "custom_virtualenv", "description",
    "diff_mode", "execution_environment", "extra_vars", "force_handlers", "forks", "host_config_key", "instance_groups",
    "inventory", "job_slice_count", "job_tags", "job_type", "labels", "limit", "name", "new_name",
    "notification_templates_error", "notification_templates_started", "notification_templates_success", "organization",
    "playbook", "prevent_instance_group_fallback", "project", "scm_branch", "skip_tags", "start_at_task", "state",
    "survey_enabled", "survey_spec", "timeout", "use_fact_cache", "verbosity", "webhook_credential", "webhook_service",
}
WORKFLOW_OPTIONS = {
    "allow_simultaneous", "ask_inventory_on_launch", "ask_labels_on_launch", "ask_limit_on_launch",
    "ask_scm_branch_on_launch", "ask_skip_tags_on_launch", "ask_tags_on_launch", "ask_variables_on_launch", "copy_from",
    "description", "destroy_current_nodes", "extra_vars", "inventory", "job_tags", "labels", "limit", "name", "new_name",
    "notification_templates_approvals", "notification_templates_error", "notification_templates_started",
    "notification_templates_success", "organization", "scm_branch", "skip_tags", "state", "survey_enabled",
    "survey_spec", "webhook_credential", "webhook_service", "workflow_nodes",
}
SCHEDULE_OPTIONS = {
    "credentials", "description", "diff_mode", "enabled", "execution_environment", "extra_data", "forks",
    "instance_groups", "inventory", "job_slice_count", "job_tags", "job_type", "labels", "limit", "name", "new_name",
    "organization", "rrule", "scm_branch", "skip_tags", "state", "timeout", "unified_job_template", "verbosity",
}
MODULE_OPTIONS = {
    "awx.awx.credential_type": CREDENTIAL_TYPE_OPTIONS,
    "awx.awx.job_template": JOB_TEMPLATE_OPTIONS,
    "awx.awx.workflow_job_template": WORKFLOW_OPTIONS,
    "awx.awx.schedule": SCHEDULE_OPTIONS,
}
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# Inputs whose id says it holds a secret must be `secret: true` (AWX then stores it encrypted and
# shows $encrypted$); these are the words.
SECRET_WORDS = ("token", "share", "key", "password", "secret", "otp")
# Built-in credential types the templates may name besides the custom ones here.
BUILTIN_CREDENTIALS = {"{{ vault_dr_awx_controller_credential }}"}
# Inventory host vars of the architecture's contract, which credentials may override.
INVENTORY_VARS = {"vault_token", "vault_ca_cert"}


class _Loader(yaml.SafeLoader):
    """PyYAML with Ansible's `!unsafe` tag (a plain string here)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load(path):
    return yaml.load(Path(path).read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def credential_types():
    return {p.name: load(p) for p in sorted((AWX / "credential_types").glob("*.yml"))}


def templates():
    return load(AWX / "job_templates.yml")["controller_templates"]


def argument_spec_options(role):
    path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    if not path.exists():
        return None
    return yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]


def jinja_names(template):
    """The variable names a Jinja template string reads, outermost names only (`tower.filename` → tower)."""
    return set(re.findall(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)", template))


def walk_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_strings(v)


@pytest.mark.parametrize("name", sorted(p.name for p in (AWX / "credential_types").glob("*.yml")))
def test_credential_type_structure(name):
    ct = credential_types()[name]
    assert set(ct) <= CREDENTIAL_TYPE_OPTIONS, set(ct) - CREDENTIAL_TYPE_OPTIONS
    assert ct["kind"] in ("cloud", "net"), "custom credential types are cloud or net"
    fields = ct["inputs"]["fields"]
    ids = [f["id"] for f in fields]
    assert len(ids) == len(set(ids)), ids
    for field in fields:
        assert {"id", "label", "type"} <= set(field), field
        assert field["type"] in ("string", "boolean"), field
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", field["id"]), field["id"]
        if any(word in field["id"] for word in SECRET_WORDS):
            assert field.get("secret") is True, "%s: input %s holds a secret: mark it secret: true" % (name, field["id"])
    assert set(ct["inputs"].get("required", [])) <= set(ids)

    injectors = ct["injectors"]
    assert set(injectors) <= {"env", "extra_vars", "file"}, injectors
    has_file = "file" in injectors
    for kind, entries in injectors.items():
        for key, template in entries.items():
            if kind == "file":
                assert key == "template" or key.startswith("template."), key
            for used in jinja_names(template):
                if used == "tower":
                    assert has_file, "%s: %s.%s uses tower.filename without a file injector" % (name, kind, key)
                else:
                    assert used in ids, "%s: injector %s.%s uses %r, which is no declared input" % (name, kind, key, used)


def test_credential_types_inject_variables_the_collection_reads():
    names = [ct["name"] for ct in credential_types().values()]
    assert len(names) == len(set(names)), names
    ceremony = (PLAYBOOKS / "ceremony.yml").read_text()
    for file_name, ct in credential_types().items():
        for var in ct["injectors"].get("extra_vars", {}):
            role = var.split("_")[0] if not var.startswith("batch_token") else "batch_token"
            if var in INVENTORY_VARS:
                continue
            if var.startswith("ceremony_"):
                assert var in ceremony, "%s injects %s, which playbooks/ceremony.yml does not read" % (file_name, var)
                continue
            options = argument_spec_options(role)
            if options is None:
                continue  # that role has not landed in this checkout yet
            assert var in options, "%s injects %s, which roles/%s/meta/argument_specs.yml does not declare" % (
                file_name, var, role)


def test_secret_inputs_reach_only_extra_vars():
    # An env var lands in ansible-runner's artifacts/*/command and job env; keep secrets in extra vars.
    for file_name, ct in credential_types().items():
        secret = {f["id"] for f in ct["inputs"]["fields"] if f.get("secret")}
        for template in ct["injectors"].get("env", {}).values():
            assert not jinja_names(template) & secret, file_name


def test_a_key_share_credential_holds_one_share():
    share_types = [ct for ct in credential_types().values() if "share" in ct["name"].lower()]
    assert share_types
    for ct in share_types:
        secret = [f for f in ct["inputs"]["fields"] if f.get("secret")]
        assert len(secret) == 1, "one share per credential, so no job holds a threshold of shares"


@pytest.mark.parametrize("template", templates(), ids=lambda t: t["name"])
def test_job_template(template):
    assert set(template) <= JOB_TEMPLATE_OPTIONS, set(template) - JOB_TEMPLATE_OPTIONS
    playbook = ROOT / template["playbook"]
    assert template["playbook"].startswith("playbooks/"), template["playbook"]
    assert playbook.exists(), "%s names %s, which does not exist" % (template["name"], template["playbook"])
    assert yaml.safe_load(playbook.read_text()), playbook
    known = {ct["name"] for ct in credential_types().values()} | BUILTIN_CREDENTIALS
    for cred in template.get("credentials", []):
        assert cred in known, "%s: credential %r is neither a custom type here nor the controller credential" % (
            template["name"], cred)
    # No job holds a threshold of shares: a template attaches no key-share credential itself.
    assert not any("share" in c.lower() for c in template.get("credentials", []))
    if template.get("survey_enabled"):
        spec = template["survey_spec"]
        assert {"name", "description", "spec"} <= set(spec)
        variables = [q["variable"] for q in spec["spec"]]
        assert len(variables) == len(set(variables))
        for q in spec["spec"]:
            assert q["type"] in SURVEY_TYPES, q
            assert {"question_name", "variable", "required"} <= set(q), q
            if q["type"] in ("multiplechoice", "multiselect"):
                assert q["choices"], q
                if q.get("default"):
                    assert q["default"] in q["choices"], q
            if any(word in q["variable"] for word in ("token", "share", "otp")):
                assert q["type"] == "password", "%s is a secret: make it a password question" % q["variable"]
            # Every answer is read by the template's playbook.
            assert q["variable"] in playbook.read_text(), "%s does not read %s" % (template["playbook"], q["variable"])


def test_dr_change_is_one_serialised_template_with_an_action_survey():
    (dr_change,) = [t for t in templates() if t["name"] == "DR change"]
    assert dr_change["allow_simultaneous"] is False
    questions = {q["variable"]: q for q in dr_change["survey_spec"]["spec"]}
    assert questions["dr_change_action"]["choices"] == ["setup", "failover", "failback", "drill"]
    failover = argument_spec_options("failover")
    if failover is not None:
        assert questions["dr_change_failover_mode"]["choices"] == failover["failover_mode"]["choices"]
        assert questions["dr_change_failover_mode"]["default"] == failover["failover_mode"]["default"]


def test_dr_change_credentials_are_fixed_on_the_template():
    # A launcher cannot swap the CA bundle (a server of theirs would get the Vault token) or the tokens.
    (dr_change,) = [t for t in templates() if t["name"] == "DR change"]
    assert dr_change.get("ask_credential_on_launch") is False
    assert dr_change["credentials"] == ["Vault DR token", "Vault DR CA bundle", "Vault DR batch operation token"]
    assert not any(k.startswith("ask_") and v for k, v in dr_change.items()), "DR change asks nothing but its survey"


def test_a_key_holder_credential_carries_the_coordinators_fingerprint():
    (share,) = [ct for ct in credential_types().values() if ct["name"] == "Vault DR key share"]
    fields = {f["id"]: f for f in share["inputs"]["fields"]}
    assert "coordinator_fingerprint" in share["inputs"]["required"]
    assert not fields["coordinator_fingerprint"].get("secret")  # a fingerprint is no secret
    assert share["injectors"]["extra_vars"]["ceremony_expected_pgp_fingerprint"] == "{{ coordinator_fingerprint }}"
    plays = yaml.safe_load((PLAYBOOKS / "ceremony.yml").read_text())
    (step,) = [t for p in plays for t in p["tasks"] if "vaultops.dr.dr_operation_token" in t]
    assert step["vaultops.dr.dr_operation_token"]["expected_pgp_fingerprint"] == "{{ ceremony_expected_pgp_fingerprint }}"


def test_dr_change_sets_only_variables_the_roles_declare():
    plays = yaml.safe_load((PLAYBOOKS / "dr_change.yml").read_text())
    set_vars = set()
    for play in plays:
        for task in play.get("tasks", []):
            set_vars |= set(task.get("ansible.builtin.set_fact", {}))
    assert {"setup_primary", "failover_target", "failover_mode", "failback_primary", "drill_target",
            "failover_dr_operation_tokens", "failback_dr_operation_tokens"} == set_vars
    imported = plays[-1]["ansible.builtin.import_playbook"]
    assert imported == "{{ dr_change_action }}.yml"
    for var in sorted(set_vars):
        role = var.split("_")[0]
        if role == "drill":
            continue  # drill is a playbook, not a role: drill.yml documents drill_target
        options = argument_spec_options(role)
        if options is None:
            continue
        assert var in options, "dr_change.yml sets %s, which roles/%s does not declare" % (var, role)


def test_workflows_and_schedules_name_what_is_defined():
    template_names = {t["name"] for t in templates()}
    workflows = load(AWX / "workflows.yml")["controller_workflows"]
    for wf in workflows:
        assert set(wf) <= WORKFLOW_OPTIONS, set(wf) - WORKFLOW_OPTIONS
        identifiers = {n["identifier"] for n in wf["workflow_nodes"]}
        for node in wf["workflow_nodes"]:
            assert node["unified_job_template"]["name"] in template_names
            assert node["unified_job_template"]["type"] == "job_template"
            for kind in ("success_nodes", "failure_nodes", "always_nodes"):
                for target in node.get("related", {}).get(kind, []):
                    assert target["identifier"] in identifiers
    schedules = load(AWX / "schedules.yml")["controller_schedules"]
    scheduled = set()
    for schedule in schedules:
        assert set(schedule) <= SCHEDULE_OPTIONS, set(schedule) - SCHEDULE_OPTIONS
        assert schedule["unified_job_template"] in template_names | {wf["name"] for wf in workflows}
        assert re.fullmatch(r"DTSTART:\d{8}T\d{6}Z RRULE:FREQ=(HOURLY|DAILY|WEEKLY);INTERVAL=\d+", schedule["rrule"])
        scheduled.add(schedule["unified_job_template"])
    # The readiness check and the batch token rotation run on a schedule.
    rotation = {wf["name"] for wf in workflows if any(n["unified_job_template"]["name"] == "DR batch token rotation"
                                                      for n in wf["workflow_nodes"])}
    assert "DR readiness check" in scheduled
    assert scheduled & ({"DR batch token rotation"} | rotation)


def test_apply_playbook_passes_every_key_the_content_uses():
    (play,) = yaml.safe_load((AWX / "apply.yml").read_text())
    passed = {}
    for task in play["tasks"]:
        for module, options in MODULE_OPTIONS.items():
            if module in task:
                args = set(task[module])
                assert args <= options, (module, args - options)
                passed[module] = args
    assert set(passed) == set(MODULE_OPTIONS)
    content = {
        "awx.awx.credential_type": list(credential_types().values()),
        "awx.awx.job_template": templates(),
        "awx.awx.workflow_job_template": load(AWX / "workflows.yml")["controller_workflows"],
        "awx.awx.schedule": load(AWX / "schedules.yml")["controller_schedules"],
    }
    for module, items in content.items():
        for item in items:
            dropped = set(item) - passed[module]
            assert not dropped, "awx/apply.yml would drop %s of %s" % (sorted(dropped), item["name"])


def test_placeholders_are_set_by_the_apply_playbook():
    (play,) = yaml.safe_load((AWX / "apply.yml").read_text())
    defined = set(play["vars"])
    for path in [AWX / "job_templates.yml", AWX / "workflows.yml", AWX / "schedules.yml"]:
        for text in walk_strings(load(path)):
            for used in jinja_names(text):
                assert used in defined, "%s uses {{ %s }}, which awx/apply.yml does not set" % (path.name, used)
