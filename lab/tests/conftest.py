"""Shared fixtures: one real lab (3 OpenBao clusters behind drlab gateways) for the whole session."""

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
        yield lab
    finally:
        lab.down(purge=False)


@pytest.fixture(scope="session")
def apis(lab):
    return {n: Api(lab.cluster(n)) for n in ("a", "b", "c")}
