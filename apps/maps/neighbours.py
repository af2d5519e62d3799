"""Each memory's cosine similarity to its nearest other memory in the full embedding
space: the map's near-duplicate score. It does not depend on the layout, so the
projection job computes it in a child process while it lays out the map.

    python -m apps.maps.neighbours < rows.npy > scores.npy

No Django here: the child only needs numpy, scikit-learn and pynndescent. The job
starts it with subprocess, not multiprocessing: the job runs in a Celery prefork
worker, whose daemonic processes may not have multiprocessing children, and forking a
process that has started torch's or numba's threads is unsafe.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

# The maps' fixed seed (services.py uses it too): with one thread, the same rows give
# the same scores and the same layout.
RANDOM_STATE = 42
# Above this many rows, each row's nearest other row is looked for among its
# NEAREST_CANDIDATES neighbours in a graph, not among every row.
GRAPH_ABOVE = 5000
NEAREST_CANDIDATES = 16
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The end of the child's stderr that a failure reports: its traceback.
REPORTED_STDERR = 3000


class NeighbourProcessFailed(RuntimeError):
    """The child process exited with an error; the message ends with its stderr."""


def nearest_similarity(rows: np.ndarray) -> np.ndarray:
    """Each unit row's cosine similarity to its nearest other row (0 for a lone row)."""
    if len(rows) < 2:
        return np.zeros(len(rows), dtype=np.float32)
    if len(rows) > GRAPH_ABOVE:
        return graph_nearest_similarity(rows)
    return exact_nearest_similarity(rows)


def exact_nearest_similarity(rows: np.ndarray) -> np.ndarray:
    """By comparing every pair: at 100k rows that took 170 s of CPU."""
    from sklearn.neighbors import NearestNeighbors

    # On unit vectors, Euclidean neighbours are cosine neighbours.
    distances, _ = NearestNeighbors(n_neighbors=2).fit(rows).kneighbors(rows)
    return (1.0 - distances[:, 1] ** 2 / 2.0).astype(np.float32)


def graph_nearest_similarity(rows: np.ndarray) -> np.ndarray:
    """From a nearest-neighbour graph (pynndescent, as UMAP uses) rather than every
    pair: at 100k rows the graph takes seconds. With NEAREST_CANDIDATES neighbours per
    row it found the exact nearest neighbour of every memory of the 10k benchmark
    space."""
    from pynndescent import NNDescent

    graph = NNDescent(
        rows.astype(np.float32),
        metric="euclidean",
        n_neighbors=NEAREST_CANDIDATES,
        random_state=RANDOM_STATE,
        n_jobs=1,
    )
    neighbours, distances = graph.neighbor_graph
    # A row's own entry (distance 0) is not its nearest other memory.
    own = np.arange(len(rows))[:, None]
    distances = np.where(neighbours == own, np.inf, distances)
    return (1.0 - distances.min(axis=1) ** 2 / 2.0).astype(np.float32)


class NearestSimilarityInChild:
    """`nearest_similarity(rows)`, computed by a child process that starts at once;
    `result()` waits for it. Used as a context manager, leaving before the result
    ends the child, so a failed job leaves no process behind."""

    def __init__(self, rows: np.ndarray) -> None:
        # A file, not a pipe, for stderr: numba's warnings could fill a pipe that
        # nobody reads until the layout is done, and stall the child. Closed by close().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=PROJECT_ROOT,
        )
        assert self._process.stdin is not None
        try:
            # A child that ends before reading every row fails: result() says why.
            with contextlib.suppress(BrokenPipeError):
                # The child reads exactly the rows' bytes; communicate() closes stdin.
                write_npy(self._process.stdin, np.ascontiguousarray(rows, dtype=np.float32))
        except BaseException:
            self.close()
            raise

    def result(self) -> np.ndarray:
        output, _ = self._process.communicate()
        if self._process.returncode != 0:
            self._stderr.seek(0)
            stderr = self._stderr.read().decode(errors="replace").strip()
            raise NeighbourProcessFailed(
                f"the near-duplicate process exited with {self._process.returncode}:"
                f" {stderr[-REPORTED_STDERR:]}"
            )
        return read_npy(io.BytesIO(output))

    def close(self) -> None:
        """End the child if it is still running."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._stderr.close()

    def __enter__(self) -> NearestSimilarityInChild:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def write_npy(stream: IO[bytes], array: np.ndarray) -> None:
    """`array` in .npy form on a stream that cannot seek (np.save needs a file)."""
    header = np.lib.format.header_data_from_array_1_0(array)
    np.lib.format.write_array_header_1_0(stream, header)
    stream.write(np.ascontiguousarray(array).data)
    stream.flush()


def read_npy(stream: IO[bytes]) -> np.ndarray:
    """An array in .npy form from a stream that cannot seek (read-only: it is a view
    of the bytes read, not a copy)."""
    np.lib.format.read_magic(stream)
    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    expected = int(np.prod(shape)) * dtype.itemsize
    data = stream.read(expected)
    if len(data) != expected:
        raise ValueError(f"the .npy stream ended after {len(data)} of its {expected} bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def main() -> None:
    write_npy(sys.stdout.buffer, nearest_similarity(read_npy(sys.stdin.buffer)))


if __name__ == "__main__":
    main()
