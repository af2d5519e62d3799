"""The near-duplicate score: each memory's similarity to its nearest other memory, from a
nearest-neighbour graph instead of every pair in large maps, computed in a child
process while the map is laid out."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from apps.maps import neighbours

pytestmark = pytest.mark.slow


def unit_rows(count: int, dimensions: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dimensions)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def every_pair(rows: np.ndarray) -> np.ndarray:
    distances, _ = NearestNeighbors(n_neighbors=2).fit(rows).kneighbors(rows)
    return 1.0 - distances[:, 1] ** 2 / 2.0


def test_it_finds_every_rows_nearest_other_row_as_comparing_every_pair_does():
    rows = unit_rows(3000, 64, seed=1)
    # Planted near-duplicates and exact copies among unrelated rows.
    noise = np.random.default_rng(2).standard_normal((50, 64)).astype(np.float32) * 0.02
    rows[100:150] = rows[:50] + noise
    rows[100:150] /= np.linalg.norm(rows[100:150], axis=1, keepdims=True)
    rows[200:210] = rows[50:60]
    found = neighbours.graph_nearest_similarity(rows)
    exact = every_pair(rows)
    # Every near-duplicate is found exactly; every other score is a real other row's
    # (never above the nearest), and mostly the nearest's even on random rows (87%),
    # the hardest case for a neighbour graph (the 10k benchmark space: every one).
    planted = np.r_[0:60, 100:150, 200:210]
    assert np.allclose(found[planted], exact[planted], atol=1e-5)
    assert (found <= exact + 1e-5).all()
    assert np.mean(np.isclose(found, exact, atol=1e-5)) > 0.8
    assert (found[:50] > 0.95).all() and (found[100:150] > 0.95).all()
    assert np.allclose(found[200:210], 1.0, atol=1e-5)  # a copy, not the row itself
    assert (found[300:] < 0.95).all()


def test_it_gives_the_same_scores_every_time():
    rows = unit_rows(2000, 32, seed=3)
    first = neighbours.graph_nearest_similarity(rows)
    assert np.array_equal(first, neighbours.graph_nearest_similarity(rows))


@pytest.mark.parametrize("count", [300, neighbours.GRAPH_ABOVE + 500])
def test_the_child_process_gives_the_scores_computed_in_process(count):
    # Both ways: every pair for a small space, the graph for a large one.
    rows = unit_rows(count, 48, seed=4)
    rows[10:20] = rows[:10]
    with neighbours.NearestSimilarityInChild(rows) as child:
        in_child = child.result()
    assert in_child.dtype == np.float32 and in_child.shape == (count,)
    assert np.array_equal(in_child, neighbours.nearest_similarity(rows))
    assert np.allclose(in_child[:20], 1.0, atol=1e-5)


def test_a_failing_child_process_raises_with_its_error():
    # Not a matrix: the child's scikit-learn refuses it and the child exits non-zero.
    with (
        neighbours.NearestSimilarityInChild(np.zeros(5, dtype=np.float32)) as child,
        pytest.raises(neighbours.NeighbourProcessFailed, match="Expected 2D array"),
    ):
        child.result()
