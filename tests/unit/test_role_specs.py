"""Every role's defaults/main.yml and meta/argument_specs.yml agree (prometheus-community's CI check).

For each role under roles/: every default is a documented option of the `main` entry point with the same
default value; every option that has a default in the spec has it in defaults/main.yml; every option has a
description and a type; options carry the role's prefix (ansible-lint's var-naming[no-role-prefix]); every
option holding a token or key share is no_log.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").glob("*") if (p / "meta" / "argument_specs.yml").is_file()
               or (p / "defaults" / "main.yml").is_file() or (p / "tasks" / "main.yml").is_file())


def load(path):
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def role_files(role):
    defaults = load(role / "defaults" / "main.yml") or {}
    specs = load(role / "meta" / "argument_specs.yml")
    assert specs, "%s: meta/argument_specs.yml is missing or empty" % role.name
    assert "main" in specs.get("argument_specs", {}), "%s: argument_specs has no entry point main" % role.name
    return defaults, specs["argument_specs"]["main"].get("options") or {}


def test_there_are_roles():
    assert ROLES, "no roles found under roles/"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_match_argument_specs(role):
    defaults, options = role_files(role)
    undocumented = sorted(set(defaults) - set(options))
    assert not undocumented, "%s: defaults/main.yml sets %s, not in meta/argument_specs.yml" % (role.name, undocumented)
    for name, value in defaults.items():
        spec = options[name]
        assert "default" in spec, "%s: %s has a default in defaults/main.yml (%r) but none in the spec" % (
            role.name, name, value)
        assert spec["default"] == value, "%s: %s defaults to %r in defaults/main.yml but %r in the spec" % (
            role.name, name, value, spec["default"])
    missing = sorted(n for n, spec in options.items() if "default" in spec and n not in defaults)
    assert not missing, "%s: the spec gives defaults for %s, which defaults/main.yml lacks" % (role.name, missing)


def _options(options, where):
    """Every option, nested suboptions included, as (dotted name, spec)."""
    for name, spec in (options or {}).items():
        yield where + name, spec or {}
        yield from _options((spec or {}).get("options"), where + name + ".")


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_option_is_described_and_typed(role):
    _defaults, options = role_files(role)
    for name, spec in _options(options, ""):
        description = spec.get("description")
        if isinstance(description, list):
            description = " ".join(str(d) for d in description)
        assert description and str(description).strip(), "%s: option %s has no description" % (role.name, name)
        assert spec.get("type"), "%s: option %s has no type" % (role.name, name)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_options_carry_the_role_prefix(role):
    _defaults, options = role_files(role)
    bad = sorted(n for n in options if not n.startswith(role.name + "_"))
    assert not bad, "%s: options without the %s_ prefix: %s" % (role.name, role.name, bad)


# Options whose names look like secrets but are not (issue 20, item 9); every other option whose name says token,
# share, secret, password, passphrase or OTP must be no_log. Paths (*_file, *_dir, *_path) hold no secret either.
NOT_SECRETS = {
    "batch_token_ttl": "a duration",
    "batch_token_min_ttl": "a duration",
    "batch_token_role": "the token role's name",
    "batch_token_policy": "the policy's name",
    "batch_token_primary": "an inventory name",
    "readiness_min_token_ttl": "a duration",
}
SECRET_WORDS = ("token", "share", "secret", "password", "passphrase", "otp")


def looks_secret(name):
    leaf = name.rsplit(".", 1)[-1]
    words = leaf.split("_")
    return (any(w.startswith(s) for w in words for s in SECRET_WORDS) and name not in NOT_SECRETS
            and not leaf.endswith(("_file", "_dir", "_path")))


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_secret_options_are_no_log(role):
    _defaults, options = role_files(role)
    bad = sorted(n for n, spec in _options(options, "") if looks_secret(n) and spec.get("no_log") is not True)
    assert not bad, "%s: options holding a token or key share without no_log: true: %s" % (role.name, bad)


def test_not_secrets_are_options_and_the_rule_sees_the_secrets():
    every = {n for role in ROLES for n, _s in _options(role_files(role)[1], "")}
    assert set(NOT_SECRETS) <= every, "stale NOT_SECRETS entries: %s" % sorted(set(NOT_SECRETS) - every)
    secrets = sorted(n for n in every if looks_secret(n))
    for name in ("batch_token_current", "failover_dr_operation_token", "failover_dr_operation_tokens",
                 "failover_key_shares", "failback_key_shares", "readiness_dr_operation_token"):
        assert name in secrets, secrets
    assert not looks_secret("batch_token_output_file") and not looks_secret("batch_token_ttl")
