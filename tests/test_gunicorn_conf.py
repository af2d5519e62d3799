"""memoryweb/gunicorn_conf.py: as many sync workers as the cores this process may use."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from memoryweb import gunicorn_conf

AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", AFFINITY),  # no quota
        ("50000 100000\n", 1),  # half a core: still one worker
        ("150000 100000\n", min(AFFINITY, 2)),  # 1.5 cores round up
        ("6400000 100000\n", AFFINITY),  # a quota above the CPUs it may run on
        ("garbage\n", AFFINITY),
        (None, AFFINITY),  # no cgroup v2 file
    ],
)
def test_it_counts_the_cores_a_container_may_use(tmp_path: Path, cpu_max, expected) -> None:
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    assert gunicorn_conf.usable_cores(path) == expected


@pytest.fixture
def reload_config(monkeypatch):
    def reload(**env: str):
        for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(gunicorn_conf)

    yield reload
    monkeypatch.undo()
    importlib.reload(gunicorn_conf)


def test_it_runs_one_worker_per_core_unless_told(reload_config) -> None:
    config = reload_config()
    assert (config.workers, config.threads) == (config.usable_cores(), 1)
    config = reload_config(GUNICORN_WORKERS="3", GUNICORN_THREADS="2")
    assert (config.workers, config.threads) == (3, 2)
    assert reload_config(GUNICORN_WORKERS="").workers == config.usable_cores()


@pytest.mark.parametrize("value", ["0", "many", "-2", "1.5"])
def test_a_bad_worker_count_stops_gunicorn_with_the_name(reload_config, value) -> None:
    with pytest.raises(RuntimeError, match=f"GUNICORN_WORKERS must be .* got '{value}'"):
        reload_config(GUNICORN_WORKERS=value)
