"""Shared set-up for the benchmark scripts: Django, timing statistics, the machine."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memoryweb.settings")
# The figures are of the server as deployed. With DEBUG on, Django also keeps every
# query's SQL and formats its parameters: about a millisecond of a 100k-memory search.
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):7.2f} ms   p95 {percentile(values, 0.95):7.2f} ms"
        f"   (n={len(values)})"
    )


def machine() -> str:
    return (
        f"{cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def cpu_model() -> str:
    # Figures from different machines differ by more than any change; name the CPU.
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def database_cpu_seconds() -> float | None:
    """CPU time the PostgreSQL backend of Django's connection has used so far (user and
    system), read from /proc: what "database work" means apart from this process's
    Python and the round trips. None when the server is not on this machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime, the 14th and 15th fields (the 12th and 13th after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
