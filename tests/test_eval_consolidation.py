"""`manage.py eval_consolidation`: labelled cases in fresh spaces, scored as pairs the
way shared/datasets/consolidation/README.md defines; bad input is refused clearly."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.consolidation.evaluation import Tally, score_case
from apps.spaces.models import Space


def case(keys, expect, type_="multi"):
    return {
        "id": "t",
        "type": type_,
        "memories": [{"key": k, "content": k, "kind": "fact"} for k in keys],
        "expect": expect,
    }


def test_a_supersede_implied_through_a_chain_is_right_and_the_wrong_way_is_not():
    chain = case("abc", [{"op": "supersede", "old": "a", "new": "b"},
                         {"op": "supersede", "old": "b", "new": "c"}])  # fmt: skip
    counts = score_case(chain, [{"op": "supersede", "old": "a", "new": "c"},
                                {"op": "supersede", "old": "c", "new": "b"}])  # fmt: skip
    assert counts["s_tp"] == 1 and counts["s_fp"] == 1
    # a→c stands for neither expected step, so nothing expected was found.
    assert counts["s_exp"] == 2 and counts["s_found"] == 0


def test_a_merge_group_counts_as_one_memory_for_supersede():
    labelled = case("abc", [{"op": "merge", "memories": ["a", "b"]},
                            {"op": "supersede", "old": "a", "new": "c"}])  # fmt: skip
    counts = score_case(labelled, [{"op": "supersede", "old": "b", "new": "c"}])
    assert (counts["s_tp"], counts["s_fp"], counts["s_found"]) == (1, 0, 1)
    assert (counts["m_exp"], counts["m_found"]) == (1, 0)


def test_a_merge_group_of_three_predicts_every_pair_in_it():
    labelled = case("abcd", [{"op": "merge", "memories": ["a", "b"]}])
    counts = score_case(labelled, [{"op": "merge", "memories": ["a", "b", "c"]}])
    assert (counts["m_tp"], counts["m_fp"]) == (1, 2)  # a-b right; a-c and b-c wrong
    assert counts["m_found"] == 1
    # Joined through other merges still counts as found.
    triple = case("abc", [{"op": "merge", "memories": ["a", "b", "c"]}])
    counts = score_case(triple, [{"op": "merge", "memories": ["a", "b"]},
                                 {"op": "merge", "memories": ["b", "c"]}])  # fmt: skip
    assert (counts["m_tp"], counts["m_fp"], counts["m_exp"], counts["m_found"]) == (2, 0, 3, 3)


def test_the_tally_reports_false_changes_and_cases_fully_right():
    tally = Tally()
    quiet = case("ab", [], "same_slot_both_true")
    tally.add(quiet, score_case(quiet, []))
    noisy = case("ab", [], "different_subject")
    tally.add(noisy, score_case(noisy, [{"op": "merge", "memories": ["a", "b"]}]))
    update = case("ab", [{"op": "supersede", "old": "a", "new": "b"}], "update")
    tally.add(update, score_case(update, [{"op": "supersede", "old": "a", "new": "b"}]))
    figures = tally.figures()
    assert figures["false_change_rate"] == 0.5
    assert figures["no_change_clean"] == [1, 2] and figures["fully_right"] == [2, 3]
    assert figures["merge"]["precision"] == 0.0 and figures["supersede"]["recall"] == 1.0


MINE: list[dict[str, Any]] = [
    {
        "id": "own-paraphrase",
        "type": "paraphrase",
        "memories": [
            {"key": "a", "content": "Oskar is allergic to bee stings and carries an EpiPen.",
             "kind": "fact", "subject": "Oskar Lund", "occurred_at": "2025-01-10T10:00:00Z"},
            {"key": "b", "content": "Oskar always has an adrenaline auto-injector with him "
             "because bee stings can kill him.", "kind": "fact", "subject": "Oskar Lund",
             "occurred_at": "2025-04-02T10:00:00Z"},
        ],
        "expect": [{"op": "merge", "memories": ["a", "b"]}],
    },
    {
        "id": "own-update",
        "type": "update",
        "memories": [
            {"key": "a", "content": "Yuki relocated to Sapporo for her new job.", "kind": "fact",
             "subject": "Yuki Tanabe", "occurred_at": "2025-03-10T10:00:00Z"},
            {"key": "b", "content": "Yuki lives in Osaka.", "kind": "fact",
             "subject": "Yuki Tanabe", "occurred_at": "2024-01-10T10:00:00Z"},
        ],
        "expect": [{"op": "supersede", "old": "b", "new": "a"}],
    },
    {
        "id": "own-look-alike",
        "type": "different_subject",
        "memories": [
            {"key": "a", "content": "Beatriz drives a red Toyota Yaris.", "kind": "fact",
             "subject": "Beatriz Lopes", "occurred_at": "2025-01-10T10:00:00Z"},
            {"key": "b", "content": "Henrik drives a red Toyota Yaris.", "kind": "fact",
             "subject": "Henrik Dahl", "occurred_at": "2025-02-10T10:00:00Z"},
        ],
        "expect": [],
    },
]  # fmt: skip


def write(tmp_path, rows):
    path = tmp_path / "cases.jsonl"
    path.write_text(
        "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)
    )
    return path


def run(*args):
    out = StringIO()
    call_command("eval_consolidation", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_finds_the_paraphrase_and_the_update_and_leaves_the_look_alike(tmp_path):
    figures = json.loads(run("--data", str(write(tmp_path, MINE)), "--json"))
    assert set(figures) == {"merge", "supersede", "false_change_rate", "cases", "seconds"}
    assert figures["merge"] == {"precision": 1.0, "recall": 1.0}
    assert figures["supersede"] == {"precision": 1.0, "recall": 1.0}
    assert figures["false_change_rate"] == 0.0 and figures["cases"] == 3
    assert figures["seconds"] > 0
    # Each case ran in a space of its own that is gone afterwards.
    assert not Space.objects.filter(slug__startswith="eval-consolidation-").exists()


@pytest.mark.django_db
def test_the_table_breaks_the_figures_down_by_type(tmp_path):
    table = run("--data", str(write(tmp_path, MINE)))
    assert "| merge | 1.00 | 1.00 | 1.00 |" in table
    assert "no-change cases clean: 1 of 1" in table and "cases fully right: 3 of 3" in table
    assert "| different_subject | 1 |" in table and "| update | 1 |" in table


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (None, "no cases file at"),
        (["{not json"], "line 1: not JSON"),
        ([{**MINE[1], "memories": [{**MINE[1]["memories"][0], "kind": "belief"},
                                   MINE[1]["memories"][1]]}], "unknown kind 'belief'"),
        ([{**MINE[1], "memories": MINE[1]["memories"][:1]}], "at least two memories"),
        ([{**MINE[1], "expect": [{"op": "merge", "memories": ["a", "z"]}]}],
         "names a memory the case lacks"),
        ([{**MINE[1], "memories": [{**MINE[1]["memories"][0], "occurred_at": "soon"},
                                   MINE[1]["memories"][1]]}], "bad occurred_at"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_clear_error(tmp_path, rows, message):
    path = tmp_path / "missing.jsonl" if rows is None else write(tmp_path, rows)
    with pytest.raises(CommandError, match=message):
        run("--data", str(path))
    assert not Space.objects.exists()
