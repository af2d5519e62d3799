"""The LoCoMo evaluation: its scoring rules, and runs on a slice of the dev set, read
from ../shared/datasets/locomo/ (never copied into the project: its licence is
CC BY-NC 4.0). Without the data set those runs are skipped, saying why.
"""

from __future__ import annotations

import json
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

DATA = Path(settings.BASE_DIR).parent / "shared" / "datasets" / "locomo" / "locomo_dev.json"
needs_dev_set = pytest.mark.skipif(
    not DATA.is_file(),
    reason=f"no LoCoMo dev set at {DATA}: the data set is not shipped with the project "
    "(its licence is CC BY-NC 4.0)",
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


@needs_dev_set
def test_it_reads_sessions_in_order_with_their_dates_captions_and_questions():
    raw = json.loads(DATA.read_text())[0]
    (first,) = load_conversations(DATA, limit=1)

    sessions = [turn.session for turn in first.turns]
    assert sessions == sorted(sessions)  # session_10 after session_2, not after session_1
    assert set(sessions) == {
        int(key.removeprefix("session_"))
        for key, turns in raw["conversation"].items()
        if key.removeprefix("session_").isdigit() and turns
    }
    moments = [turn.occurred_at for turn in first.turns]
    assert all(moment.tzinfo is not None for moment in moments)
    assert moments == sorted(moments)
    captioned = [
        turn
        for key, turns in raw["conversation"].items()
        if key.removeprefix("session_").isdigit()
        for turn in turns
        if turn.get("blip_caption")
    ]
    texts = {turn.dia_id: turn.text for turn in first.turns}
    for turn in captioned:
        assert turn["blip_caption"] in texts[turn["dia_id"]]
    assert len(first.questions) == len(raw["qa"])


def evaluation(data: Path, *options: str) -> dict:
    """The command's JSON report for the LoCoMo file `data` with `options`."""
    out = StringIO()
    call_command("eval_locomo", "--data", str(data), *options, "--json", stdout=out)
    return json.loads(out.getvalue())


@needs_dev_set
def test_the_eval_scores_each_question_category_and_purges_its_spaces(db, hashing_backend):
    sample = json.loads(DATA.read_text())[0]
    report = evaluation(DATA, "--limit", "1", "--mode", "text", "hybrid", "--k", "1", "5")

    assert report["conversations"] == [sample["sample_id"]]
    text = report["modes"]["text"]
    assert text["questions"] == report["modes"]["hybrid"]["questions"] == len(sample["qa"])
    assert set(text["recall"]) == {"@1", "@5"}
    for category, found in text["recall"]["@5"].items():
        assert 0 <= text["recall"]["@1"][category] <= found <= 100, category
    # Rare shared words find evidence even with a model that knows no meaning.
    assert text["recall"]["@5"]["overall"] > 0
    assert not Space.objects.filter(slug__startswith="locomo-").exists()


@needs_dev_set
def test_the_eval_asks_again_after_consolidating_with_graph_expansion(db, hashing_backend):
    report = evaluation(
        DATA,
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

    consolidated = report["consolidated"]
    assert consolidated["graph_weight"] == 2.0
    assert set(consolidated["applied"]) == {"link", "summary", "entities"}
    walked = consolidated["modes"]["hybrid+graph"]
    assert walked["questions"] == report["modes"]["hybrid"]["questions"]
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


def test_the_command_refuses_a_negative_graph_weight(db, tmp_path):
    empty = tmp_path / "none.json"
    empty.write_text("[]")
    with pytest.raises(CommandError, match="graph-weight"):
        call_command("eval_locomo", "--data", str(empty), "--graph-weight", "-1")


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
    # A turn that announces a plan may be proposed as superseded by a later turn that
    # moves it (consolidation's rule for episodes); such proposals wait for review and
    # are never applied to the conversation the walk searches.
    assert "supersede" not in consolidated["applied"]
    walked = consolidated["modes"]["hybrid+graph"]
    assert walked["questions"] == report["modes"]["hybrid"]["questions"] == 199
    assert 30 < walked["recall"]["@10"]["overall"] <= 100
    assert not Space.objects.filter(slug__startswith="locomo-").exists()
