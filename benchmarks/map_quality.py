"""How much of the neighbourhoods a map keeps when UMAP is fitted on a sample and the
other memories are placed by `transform` (what apps/maps/services.py does above
SAMPLE_ABOVE memories), against the full fit, at a size where the full fit is
affordable.

    .venv/bin/python benchmarks/map_quality.py [--size 10000] [--share 0.2]

Uses the search benchmark's space bench-search-<size>. The sample is `share` of the
memories, as FIT_SAMPLE is of 100k. Trustworthiness (scikit-learn, 15 neighbours,
cosine in the embedding space) is measured on the same fixed 2,000 memories for both
maps: 1.0 means every memory's neighbours on the map are neighbours in meaning.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import machine
from sklearn.manifold import trustworthiness

from apps.maps import services as maps
from apps.spaces.models import Space

MEASURED = 2000
NEIGHBOURS = 15


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--share", type=float, default=maps.FIT_SAMPLE / 100_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    space = Space.objects.get(slug=f"bench-search-{args.size}")
    ids, vectors = maps.load_vectors(space)
    count = len(ids)
    measured = np.sort(np.random.default_rng(7).choice(count, min(MEASURED, count), replace=False))
    fits = {"full fit": count, f"fit on {args.share:.0%}": int(count * args.share)}
    for name, fit_sample in fits.items():
        began, cpu_began = time.perf_counter(), time.process_time()
        layout = maps.compute_layout(ids, vectors, fit_sample=fit_sample)
        took = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
        score = trustworthiness(
            vectors[measured], layout.xy[measured], n_neighbors=NEIGHBOURS, metric="cosine"
        )
        clusters = len(set(layout.clusters.tolist()) - {-1})
        print(
            f"{count:>7} {name:<12} trustworthiness {score:.3f}   {took:.1f} s"
            f" ({cpu:.1f} s of CPU), {clusters} clusters",
            flush=True,
        )


if __name__ == "__main__":
    main()
