"""GET /api/v1/spaces/<slug>/health: the health panel's figures as JSON."""

from __future__ import annotations

from rest_framework.test import APIClient

from apps.retrieval.models import HealthSnapshot
from apps.spaces.models import Scope
from tests.api.conftest import READ, error_of


def test_it_answers_health_over_the_api(space, outsider_space, agent_for, actor):
    HealthSnapshot(space=space, recall=0.9, from_memories=200).save()

    mine = agent_for(space, READ).get(f"/api/v1/spaces/{space.slug}/health")
    theirs = agent_for(outsider_space, READ).get(f"/api/v1/spaces/{space.slug}/health")
    unsigned = APIClient().get(f"/api/v1/spaces/{space.slug}/health")

    assert mine.status_code == 200, mine.content
    body = mine.json()
    assert body["recall"]["recall_at_10"] == 0.9
    assert body["recall"]["sample_size"] == 200
    assert body["recall_low"] is True
    assert set(body) >= {"vectors", "models", "sizes", "latency_ms", "searched_exactly"}
    assert theirs.status_code == 404
    assert error_of(theirs)
    assert unsigned.status_code == 401


def test_it_needs_the_read_scope(space, agent_for):
    response = agent_for(space, [Scope.MEMORIES_WRITE]).get(f"/api/v1/spaces/{space.slug}/health")

    assert response.status_code == 403
    assert "memories:read" in error_of(response)["message"]
