"""Shared fixtures. Data from ../shared is used where present and never copied into the project;
tests that need it skip with the reason when it is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HIERNAS_SHARED", ROOT.parent / "shared"))

# Property tests are seeded by hypothesis' database-free derandomised mode so CI runs are repeatable.
settings.register_profile(
    "repeatable", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("repeatable")


def _shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is absent: this test needs the shared data beside the project (../shared)")
    return path


@pytest.fixture(scope="session")
def nb201_table() -> Path:
    """The NAS-Bench-201 12-epoch table (15,625 rows)."""
    return _shared_file("data/nb201-12epoch.csv")


@pytest.fixture(scope="session")
def cifar_tarball() -> Path:
    """CIFAR-10 as JPEGs: train/<class>/NNNN.jpg and test/<class>/NNNN.jpg."""
    return _shared_file("data/cifar10-jpeg.tar.gz")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Data caches go to a per-session temporary folder, never the user's ~/.cache."""
    monkeypatch.setenv("HIERNAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """For modules of small networks: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    from tests.torch_helpers import one_thread

    with one_thread():
        yield
