"""The LoCoMo evaluation: its scoring rules, a run on two small conversations written
for these tests (tests/fixtures/locomo_tiny.json, in LoCoMo's format), and runs on a
slice of the real dev set where it is present.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.retrieval.locomo import (
    ModeScores,
    Question,
    load_conversations,
    ndcg,
    normalize_evidence,
    parse_session_date,
)
from apps.spaces.models import Space

TINY = Path(__file__).parent / "fixtures" / "locomo_tiny.json"
DATA = Path(settings.BASE_DIR).parent / "shared" / "datasets" / "locomo" / "locomo_dev.json"
needs_dev_set = pytest.mark.skipif(
    not DATA.is_file(),
    reason=f"no LoCoMo dev set at {DATA}: the data set is not shipped with the project "
    "(its licence is CC BY-NC 4.0); tests/fixtures/locomo_tiny.json covers the same code",
)


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


def test_it_reads_sessions_in_order_with_their_dates_captions_and_questions():
    tiny, other = load_conversations(TINY)

    assert (tiny.sample_id, other.sample_id) == ("tiny-1", "tiny-2")
    # session_10 comes after session_2; the empty session_3 adds no turn.
    assert [(turn.dia_id, turn.session) for turn in tiny.turns] == [
        ("D1:1", 1), ("D1:2", 1), ("D1:3", 1), ("D1:4", 1),
        ("D2:1", 2), ("D2:2", 2), ("D2:3", 2),
        ("D10:1", 10),
    ]  # fmt: skip
    assert tiny.turns[0].text == (
        'Noor said, "Morning! I finally adopted the retired greyhound from the shelter."'
    )
    assert tiny.turns[4].text.endswith(
        " and shared a photo of a dog lying beside a torn book about volcanoes"
    )
    # Turns of a session are 30 seconds apart from the session's date.
    assert tiny.turns[1].occurred_at == datetime(2024, 3, 3, 9, 15, 30, tzinfo=UTC)
    assert tiny.turns[7].occurred_at == datetime(2024, 6, 2, 8, 5, tzinfo=UTC)
    assert [(q.category, q.evidence) for q in tiny.questions] == [
        (4, ["D1:3"]),
        (1, ["D1:4", "D2:2"]),
        (2, ["D1:1"]),
        (3, ["D2:1"]),
        (5, []),
    ]
    assert [len(other.turns), len(other.questions)] == [2, 1]


def evaluation(data: Path, *options: str) -> dict:
    """The command's JSON report for the LoCoMo file `data` with `options`."""
    out = StringIO()
    call_command("eval_locomo", "--data", str(data), *options, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_eval_scores_each_question_category_and_purges_its_spaces(db, hashing_backend):
    report = evaluation(TINY, "--mode", "text", "hybrid", "--k", "1", "2")

    assert report["conversations"] == ["tiny-1", "tiny-2"]
    assert report["turns"] == 8 + 2
    text = report["modes"]["text"]
    assert text["questions"] == report["modes"]["hybrid"]["questions"] == 5 + 1
    assert set(text["recall"]) == {"@1", "@2"}
    found_first = text["recall"]["@1"]
    # Each of these questions shares rare words with its one evidence turn (the torn
    # book's only with the turn's image caption); a question without evidence counts 1.
    for category in ("single-hop", "temporal", "open-domain", "adversarial"):
        assert found_first[category] == 100.0, category
    assert text["ndcg@10"]["single-hop"] == 100.0
    assert not Space.objects.filter(slug__startswith="locomo-").exists()


def test_the_eval_asks_again_after_consolidating_with_graph_expansion(db, hashing_backend):
    report = evaluation(
        TINY,
        "--limit",
        "1",
        "--mode",
        "hybrid",
        "--k",
        "5",
        "--consolidated",
        "--graph-weight",
        "2",
    )

    assert report["conversations"] == ["tiny-1"]
    consolidated = report["consolidated"]
    assert consolidated["graph_weight"] == 2.0
    assert set(consolidated["applied"]) == {"link", "summary", "entities"}
    walked = consolidated["modes"]["hybrid+graph"]
    assert walked["questions"] == report["modes"]["hybrid"]["questions"] == 5
    assert not Space.objects.filter(slug__startswith="locomo-").exists()


@needs_dev_set
@pytest.mark.slow
def test_the_eval_runs_on_a_two_conversation_slice(db):
    report = evaluation(DATA, "--limit", "2", "--mode", "text", "hybrid", "--k", "5", "10")

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
        call_command("eval_locomo", "--data", str(TINY), "--graph-weight", "-1")


@needs_dev_set
@pytest.mark.slow
def test_the_eval_compares_with_consolidation_and_graph_expansion(db):
    report = evaluation(DATA, "--limit", "1", "--mode", "hybrid", "--k", "10", "--consolidated")

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
