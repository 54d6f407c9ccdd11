"""One 2-worker Dask cluster for the batch, CLI and study tests (starting one costs seconds)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_scheduler() -> str:
    from workbench.eval.batch import local_cluster

    cluster = local_cluster(2)
    yield cluster.scheduler_address
    cluster.close()
