"""The LoCoMo evaluation: its scoring rules and a run on a two-conversation slice."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.retrieval.locomo import ModeScores, Question, ndcg, normalize_evidence, parse_session_date
from apps.spaces.models import Space

DATA = Path(settings.BASE_DIR).parent / "shared" / "datasets" / "locomo" / "locomo_dev.json"


def test_malformed_evidence_ids_are_normalized():
    assert normalize_evidence(["D8:6; D9:17"]) == ["D8:6", "D9:17"]
    assert normalize_evidence(["D9:1 D4:4 D4:6"]) == ["D9:1", "D4:4", "D4:6"]
    assert normalize_evidence(["D", "D:11:26", "D30:05", "D1:3", "D1:3"]) == [
        "D11:26",
        "D30:5",
        "D1:3",
    ]


def test_session_dates_parse_to_aware_datetimes():
    when = parse_session_date("1:56 pm on 8 May, 2023")
    assert (when.year, when.month, when.day, when.hour, when.minute) == (2023, 5, 8, 13, 56)
    assert when.tzinfo is not None


def test_recall_is_the_share_of_evidence_found_and_one_without_evidence():
    scores = ModeScores()
    scores.add(Question("q1", 4, ["D1:1", "D1:2"]), ["D1:1", "D9:9"], [1, 5])
    scores.add(Question("q2", 3, []), ["D1:1"], [1, 5])
    summary = scores.summary()
    assert summary["recall"]["@1"]["overall"] == 75.0  # (1/2 + 1) / 2
    assert summary["recall"]["@1"]["single-hop"] == 50.0
    assert summary["recall"]["@5"]["open-domain"] == 100.0


def test_ndcg_rewards_early_hits():
    assert ndcg(["a", "b"], {"a"}) == 1.0
    assert ndcg(["b", "a"], {"a"}) == pytest.approx(1 / 1.58496, rel=1e-4)
    assert ndcg(["x"], {"a"}) == 0.0


def test_the_command_refuses_a_missing_file(db):
    with pytest.raises(CommandError, match="no LoCoMo file"):
        call_command("eval_locomo", "--data", "/nonexistent.json")


def evaluation(*options: str) -> dict:
    """The command's JSON report for the dev set with `options`."""
    out = StringIO()
    call_command("eval_locomo", "--data", str(DATA), *options, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.slow
def test_the_eval_runs_on_a_two_conversation_slice(db):
    report = evaluation("--limit", "2", "--mode", "text", "hybrid", "--k", "5", "10")

    assert report["conversations"] == ["conv-26", "conv-30"]
    assert report["turns"] == 419 + 369
    hybrid = report["modes"]["hybrid"]
    assert hybrid["questions"] == 199 + 105
    assert set(hybrid["recall"]) == {"@5", "@10"}
    assert 30 < hybrid["recall"]["@10"]["overall"] <= 100
    assert hybrid["recall"]["@10"]["overall"] >= hybrid["recall"]["@5"]["overall"]
    assert not Space.objects.filter(slug__startswith="locomo-").exists()  # purged


def test_the_command_refuses_a_negative_graph_weight(db):
    with pytest.raises(CommandError, match="graph-weight"):
        call_command("eval_locomo", "--data", str(DATA), "--graph-weight", "-1")


@pytest.mark.slow
def test_the_eval_compares_with_consolidation_and_graph_expansion(db):
    report = evaluation("--limit", "1", "--mode", "hybrid", "--k", "10", "--consolidated")

    consolidated = report["consolidated"]
    assert set(consolidated["proposed"]) == {
        "merge", "link", "supersede", "summary", "archive", "entities"
    }  # fmt: skip
    assert consolidated["proposed"]["link"] > 0 and consolidated["proposed"]["entities"] > 0
    # Links and summaries are applied for the walk; the rest is left for review.
    assert set(consolidated["applied"]) == {"link", "summary", "entities"}
    assert consolidated["applied"]["link"] == consolidated["proposed"]["link"]
    assert consolidated["proposed"]["supersede"] == 0  # turns are events, never superseded
    walked = consolidated["modes"]["hybrid+graph"]
    assert walked["questions"] == report["modes"]["hybrid"]["questions"] == 199
    assert 30 < walked["recall"]["@10"]["overall"] <= 100
    assert not Space.objects.filter(slug__startswith="locomo-").exists()
