from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.retrieval.embedding import (
    EmbeddingError,
    HashingBackend,
    MiniLMBackend,
    OpenAIBackend,
    build_backend,
    check_backend,
)
from tests.conftest import free_port


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_hashing_backend_is_deterministic_and_normalized():
    backend = HashingBackend()
    first, again, other = backend.embed(["green tea", "green tea", "stock market crash"])
    assert first == again
    assert len(first) == 384
    assert math.isclose(math.sqrt(sum(x * x for x in first)), 1.0, rel_tol=1e-9)
    assert cosine(first, other) < 0.99


def test_a_backend_with_the_wrong_dimension_is_a_startup_error():
    with pytest.raises(ImproperlyConfigured, match="384"):
        check_backend(HashingBackend(dimensions=128))


def test_an_unknown_backend_is_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="minilm, openai or hashing"):
        build_backend("word2vec")


def test_the_openai_backend_needs_its_settings(settings):
    settings.OPENAI_BASE_URL = ""
    with pytest.raises(ImproperlyConfigured, match="MEMORYWEB_OPENAI_BASE_URL"):
        build_backend("openai")


@pytest.mark.slow
def test_the_minilm_model_loads_offline_and_captures_meaning():
    backend = MiniLMBackend()
    cat, kitten, market = backend.embed(
        [
            "A cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "The stock market fell sharply today.",
        ]
    )
    assert len(cat) == 384
    assert math.isclose(math.sqrt(sum(x * x for x in cat)), 1.0, rel_tol=1e-5)
    assert cosine(cat, kitten) > cosine(cat, market) + 0.3


@pytest.fixture(scope="module")
def float32_model():
    backend = MiniLMBackend(precision="float32")
    backend.prepare()
    return backend


@pytest.mark.slow
def test_it_embeds_a_single_query_as_the_batch_path_does(float32_model):
    texts = [
        "when is the marathon?",
        "Maya prefers sushi to tacos, especially after the cello lesson.",
        # Longer than the model's 256 tokens: both paths must truncate it alike.
        " ".join(["the garden plan changed because of the rain"] * 60),
    ]
    batch = float32_model.embed(texts)
    for text, batch_vector in zip(texts, batch, strict=True):
        (single,) = float32_model.embed([text])
        assert cosine(single, batch_vector) > 0.999999


@pytest.mark.slow
def test_it_matches_sentence_transformers_encode_in_the_callers_order(float32_model):
    # More than one batch, lengths in no order: embed() sorts them into batches and
    # must hand each vector back in its text's place.
    texts = [f"note {i}: " + "the plan changed " * (i * 7 % 13) for i in range(150)]
    reference = float32_model._model.encode(texts, batch_size=64, normalize_embeddings=True)
    vectors = float32_model.embed(texts)
    assert len(vectors) == len(texts)
    for vector, expected in zip(vectors, reference, strict=True):
        assert cosine(vector, expected.tolist()) > 0.99999


@pytest.mark.slow
def test_it_runs_the_model_in_two_threads_at_once(float32_model):
    # The worker's lanes each embed a batch on their own core: two calls must be inside
    # the model together (a lock around it would leave one waiting at the barrier).
    both_inside = threading.Barrier(2, timeout=20)

    def wait_for_the_other(*_args: object) -> None:
        both_inside.wait()  # returns the thread's index, which a pre-hook must not

    hook = float32_model._model[0].register_forward_pre_hook(wait_for_the_other)
    texts = [["A cat is sleeping on the sofa."], ["The stock market fell sharply today."]]
    results: dict[int, list[list[float]]] = {}
    try:
        threads = [
            threading.Thread(target=lambda i=i: results.update({i: float32_model.embed(texts[i])}))
            for i in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        hook.remove()
    assert not both_inside.broken
    assert sorted(results) == [0, 1]  # neither thread failed
    for i in range(2):
        assert cosine(results[i][0], float32_model.embed(texts[i])[0]) > 0.999999


@pytest.mark.slow
def test_it_keeps_bfloat16_vectors_next_to_the_float32_ones(float32_model):
    from torch import nn

    from apps.retrieval.precision import BFloat16Linear

    bfloat16 = MiniLMBackend(precision="bfloat16")
    bfloat16.prepare()
    assert (bfloat16.precision, float32_model.precision) == ("bfloat16", "float32")
    layers = list(bfloat16._model.modules())
    assert sum(isinstance(layer, BFloat16Linear) for layer in layers) == 37
    assert not any(isinstance(layer, nn.Linear) for layer in layers)
    assert not any(isinstance(layer, BFloat16Linear) for layer in float32_model._model.modules())

    texts = ["A cat is sleeping on the sofa.", "The stock market fell sharply today."]
    for one in ([texts[0]], texts):  # the single-query path and the batch path
        for reduced, full in zip(bfloat16.embed(one), float32_model.embed(one), strict=True):
            assert reduced != full
            assert cosine(reduced, full) > 0.9999
            assert math.isclose(math.sqrt(sum(x * x for x in reduced)), 1.0, rel_tol=1e-5)


def test_auto_precision_follows_the_cpu(monkeypatch):
    import torch

    from apps.retrieval import precision

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert precision.resolve("auto") == "float32"
    assert precision.resolve("bfloat16") == "bfloat16"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert precision.resolve("auto") == "bfloat16"
    assert precision.resolve("float32") == "float32"
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve("float16")


class FakeEmbeddingsServer(BaseHTTPRequestHandler):
    requests: list[dict] = []
    answer: object = None

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeEmbeddingsServer.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        answer = FakeEmbeddingsServer.answer or {
            "data": [
                {"index": i, "embedding": [3.0, 4.0] + [0.0] * 382}
                for i, _ in enumerate(body["input"])
            ]
        }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def embeddings_server():
    FakeEmbeddingsServer.requests = []
    FakeEmbeddingsServer.answer = None
    server = HTTPServer(("127.0.0.1", free_port()), FakeEmbeddingsServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_the_openai_backend_calls_the_endpoint_and_normalizes(embeddings_server):
    backend = OpenAIBackend(embeddings_server, "emb-small", "sk-test", 384, timeout=5)
    vectors = backend.embed(["one", "two"])

    assert [v[:2] for v in vectors] == [[0.6, 0.8], [0.6, 0.8]]
    request = FakeEmbeddingsServer.requests[0]
    assert request["path"] == "/v1/embeddings"
    assert request["body"] == {"model": "emb-small", "input": ["one", "two"], "dimensions": 384}
    assert request["auth"] == "Bearer sk-test"
    assert backend.name == "openai:emb-small"


def test_the_openai_backend_reports_bad_answers(embeddings_server):
    backend = OpenAIBackend(embeddings_server, "m", "", 384, timeout=5)
    FakeEmbeddingsServer.answer = {"data": [{"index": 0, "embedding": [1.0, 2.0]}]}
    with pytest.raises(EmbeddingError, match="expected 384 dimensions"):
        backend.embed(["one"])
    FakeEmbeddingsServer.answer = {"error": "quota"}
    with pytest.raises(EmbeddingError, match="unexpected answer"):
        backend.embed(["one"])


def test_the_openai_backend_reports_an_unreachable_endpoint():
    backend = OpenAIBackend(f"http://127.0.0.1:{free_port()}/v1", "m", "", 384, timeout=2)
    with pytest.raises(EmbeddingError, match="failed"):
        backend.embed(["one"])
