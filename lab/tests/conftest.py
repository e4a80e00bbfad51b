"""Shared fixtures: one real lab (3 OpenBao clusters behind drlab gateways) for the whole session.

Every test module that uses the lab starts from a fresh one (``fresh_lab``), so the modules pass in any order."""

from __future__ import annotations

import time

import pytest
from drlab_helpers import BASE_PORT, Api

from drlab import Lab


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("drlab")
    lab = Lab(str(d))
    t = time.time()
    try:
        lab.up(clusters=3, base_port=BASE_PORT)
        lab.up_seconds = time.time() - t
        lab.clean = True  # nothing has touched it yet
        yield lab
    finally:
        lab.down(purge=False)


@pytest.fixture(scope="module")
def fresh_lab(lab):
    """The module's precondition: every cluster running, DR disabled, no data, no faults, own keys.

    Resets the lab unless the previous module handed it back clean (``reset_clean`` in its teardown)."""
    if not getattr(lab, "clean", False):
        lab.reset()
    lab.clean = False
    return lab


@pytest.fixture(scope="session")
def apis(lab):
    return {n: Api(lab.cluster(n)) for n in ("a", "b", "c")}
