"""The review queue's cards (the evidence, what approving does, why a card is stale),
bulk decisions by operation, score and selection, and "Consolidate now" in place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.consolidation.models import Proposal
from apps.consolidation.services.proposals import propose
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Memory
from apps.spaces.models import Space
from tests.conftest import events_for, proposal_of

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _when(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _supersession(
    space: Space, actor: Any, evidence: dict[str, Any] | None = None, score: float = 0.91
) -> tuple[Proposal, Memory, Memory]:
    older, newer = services.create_memories(
        space,
        actor,
        [
            {"content": "Ana lives in Lisbon.", "subject": "Ana", "occurred_at": _when(2024)},
            {"content": "Ana moved to Porto.", "subject": "Ana", "occurred_at": _when(2025, 3)},
        ],
    )
    proposal = proposal_of(
        space,
        "supersede",
        [older, newer],
        {"superseded": str(older.pk), "by": str(newer.pk)},
        evidence if evidence is not None else {"similarity": score},
        score=score,
    )
    return proposal, older, newer


def _merge(space: Space, actor: Any, texts: tuple[str, str], score: float = 0.97) -> Proposal:
    first, second = services.create_memories(space, actor, [{"content": t} for t in texts])
    return proposal_of(
        space,
        "merge",
        [first, second],
        {"content": texts[0]},
        {
            "similarities": [{"a": str(first.pk), "b": str(second.pk), "similarity": score}],
            "same_text": False,
        },
        score=score,
    )


def _statuses(space: Space) -> dict[int, str]:
    return dict(Proposal.objects.for_space(space).values_list("pk", "status"))


# ---------------------------------------------------------------- the cards


def test_it_marks_the_differing_values_at_the_spans_the_evidence_gives(viewer, space, actor):
    # The shape apps.consolidation.judging gives: conflicts with a span per value, and
    # the words of the later statement that say it changed.
    evidence = {
        "similarity": 0.912,
        "reason": "the newer one says it changed: moved",
        "differs": [
            {
                "kind": "place",
                "before": [{"kind": "name", "text": "Lisbon", "span": [13, 19]}],
                "after": [{"kind": "name", "text": "Porto", "span": [13, 18]}],
            }
        ],
        "change_cues": [{"kind": "change", "text": "moved", "span": [4, 9]}],
    }
    _supersession(space, actor, evidence)
    response = viewer.get("/s/home/review/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'Ana lives in <mark class="differs">Lisbon</mark>.' in html
    assert 'Ana <mark class="cue">moved</mark> to <mark class="differs">Porto</mark>.' in html
    assert "place: Lisbon → Porto" in html and "cue: moved" in html
    assert "Proposed because the newer one says it changed: moved" in html
    assert "similarity 0.912" in html
    assert "about <strong>Ana</strong>" in html
    assert "2024-01-01" in html and "2025-03-01" in html


def test_it_reads_values_given_with_a_span_beside_them(viewer, space, actor):
    evidence = {"values": [{"before": "Lisbon", "after": "Porto", "after_span": [13, 18]}]}
    _supersession(space, actor, evidence)
    html = viewer.get("/s/home/review/").content.decode()
    assert 'Ana lives in <mark class="differs">Lisbon</mark>.' in html
    assert 'Ana moved to <mark class="differs">Porto</mark>.' in html


def test_it_finds_the_values_when_the_evidence_has_no_spans(viewer, space, actor):
    _supersession(
        space,
        actor,
        {"similarity": 0.9, "differs": {"names": {"before": ["Lisbon"], "after": ["Porto"]}}},
    )
    html = viewer.get("/s/home/review/").content.decode()
    assert '<mark class="differs">Lisbon</mark>' in html
    assert '<mark class="differs">Porto</mark>' in html
    assert "Lisbon → Porto" in html


def test_a_span_that_does_not_fit_the_text_is_not_trusted(viewer, space, actor):
    evidence = {"differs": [{"before": [{"text": "Lisbon", "span": [0, 400]}], "after": []}]}
    _supersession(space, actor, evidence)
    html = viewer.get("/s/home/review/").content.decode()
    assert 'Ana lives in <mark class="differs">Lisbon</mark>.' in html


def test_without_values_it_highlights_a_word_diff_of_the_two_texts(viewer, space, actor):
    _supersession(space, actor, {"similarity": 0.8})
    html = viewer.get("/s/home/review/").content.decode()
    assert "<del>lives in Lisbon.</del>" in html
    assert "<ins>moved to Porto.</ins>" in html


def test_it_says_what_approving_a_supersession_does(viewer, space, actor):
    _supersession(space, actor)
    html = viewer.get("/s/home/review/").content.decode()
    assert (
        "<strong>Approve:</strong> “Ana lives in Lisbon.” is marked superseded by "
        "“Ana moved to Porto.” from 2025-03-01; its validity ends then. Undo restores it."
    ) in html


def test_it_says_what_approving_a_merge_does(viewer, space, actor):
    _merge(space, actor, ("Maya likes green tea.", "maya likes green tea!"))
    html = viewer.get("/s/home/review/").content.decode()
    assert "the 2 memories become one with the text below" in html
    assert "similarity 0.970" in html
    assert 'name="content"' not in html  # a viewer gets no approve form


def test_a_summary_shows_the_sources_of_each_sentence(viewer, space, actor):
    first, second = services.create_memories(
        space, actor, [{"content": "Maya runs."}, {"content": "Maya swims."}]
    )
    propose(
        space,
        "summary",
        [str(first.pk), str(second.pk)],
        [1, 1],
        {
            "content": "Maya runs and swims.",
            "subject": "Maya",
            "sentences": [{"text": "Maya runs and swims.", "sources": [str(first.pk)]}],
        },
        {"cohesion": 0.8},
        score=0.8,
    )
    html = viewer.get("/s/home/review/").content.decode()
    assert "a summary of 2 memories is added" in html and "each sentence shows its sources" in html
    assert f'<a href="/s/home/memories/{first.pk}/" title="Maya runs.">Maya runs.</a>' in html


def test_an_entity_card_marks_the_name_in_each_memory(viewer, space, actor):
    (memory,) = services.create_memories(space, actor, [{"content": "I met Priya at noon."}])
    propose(
        space,
        "entity",
        [str(memory.pk)],
        [1],
        {
            "name": "Priya",
            "kind": "person",
            "mentions": [{"memory": str(memory.pk), "start": 6, "end": 11}],
        },
        {"reasons": ["a capitalised name after “met”"]},
        score=0.9,
        fingerprint="entity:priya",
    )
    html = viewer.get("/s/home/review/").content.decode()
    assert 'I met <mark class="differs">Priya</mark> at noon.' in html
    assert "the person “Priya” is recorded, with 1 mention." in html
    assert "Proposed because a capitalised name after “met”" in html


def test_a_summary_naming_a_memory_that_is_gone_still_shows(viewer, space, actor):
    first, second = services.create_memories(
        space, actor, [{"content": "Maya runs."}, {"content": "Maya swims."}]
    )
    gone = "00000000-0000-0000-0000-000000000001"
    propose(
        space,
        "summary",
        [str(first.pk), str(second.pk)],
        [1, 1],
        {"content": "Maya runs.", "sentences": [{"text": "Maya runs.", "sources": [gone]}]},
        {},
        score=0.8,
    )
    response = viewer.get("/s/home/review/")
    assert response.status_code == 200
    assert "no memory named" in response.content.decode()


def test_a_stale_card_says_why(viewer, space, actor):
    proposal, *_ = _supersession(space, actor)
    proposal.status = "stale"
    proposal.status_reason = "“Ana lives in Lisbon.” was edited after this was proposed."
    proposal.save()
    html = viewer.get("/s/home/review/?status=stale").content.decode()
    assert "<strong>Why stale:</strong> “Ana lives in Lisbon.” was edited" in html


def test_a_stale_card_without_a_recorded_reason_still_says_why(viewer, space, actor):
    proposal, *_ = _supersession(space, actor)
    Proposal.objects.for_space(space).filter(pk=proposal.pk).update(status="stale")
    html = viewer.get("/s/home/review/?status=stale").content.decode()
    assert "<strong>Why stale:</strong> its memories changed after it was proposed" in html


@pytest.mark.parametrize("status", ["undone", "retired", "applied", "rejected"])
def test_the_queue_filters_by_every_status(viewer, space, actor, status):
    proposal, *_ = _supersession(space, actor)
    Proposal.objects.for_space(space).filter(pk=proposal.pk).update(status=status)
    assert f"proposal-{proposal.pk}" not in viewer.get("/s/home/review/").content.decode()
    response = viewer.get(f"/s/home/review/?status={status}")
    assert response.status_code == 200
    assert f'id="proposal-{proposal.pk}"' in response.content.decode()


def test_an_unknown_filter_value_is_a_form_error(viewer, space):
    response = viewer.get("/s/home/review/?status=sideways&min_score=2")
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()


def test_an_undone_card_offers_reapply_through_approve(editor, space, actor):
    proposal, *_ = _supersession(space, actor)
    Proposal.objects.for_space(space).filter(pk=proposal.pk).update(
        status="undone", status_reason="Undone by user:alice."
    )
    html = editor.get("/s/home/review/?status=undone").content.decode()
    assert "<strong>Why undone:</strong> Undone by user:alice." in html
    assert "<strong>Reapply:</strong>" in html
    assert f'action="/s/home/review/{proposal.pk}/approve/"' in html
    assert 'data-review-action="approve">Reapply' in html


def test_the_keyboard_script_is_loaded_and_the_buttons_are_marked(editor, space, actor):
    _supersession(space, actor)
    html = editor.get("/s/home/review/").content.decode()
    assert 'src="/static/js/review.js"' in html
    assert 'data-review-action="approve"' in html and 'data-review-action="reject"' in html
    assert 'id="review-keys"' in html  # the list "?" shows


def test_approving_with_htmx_returns_the_card_with_what_happened(editor, space, actor):
    proposal, older, _ = _supersession(space, actor)
    response = editor.post(f"/s/home/review/{proposal.pk}/approve/", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith(f'<article class="card proposal" id="proposal-{proposal.pk}"')
    assert "Applied: replace an outdated fact." in html
    assert Memory.objects.for_space(space).get(pk=older.pk).status == "superseded"
    assert "proposal.apply" in events_for(space, proposal.pk)


def test_approving_a_changed_proposal_rechecks_it_and_says_it_still_holds(editor, space, actor):
    proposal, older, _ = _supersession(space, actor)
    services.update_memory(space, actor, older.pk, expected_version=1, content="Ana lives in Faro.")
    html = editor.post(f"/s/home/review/{proposal.pk}/approve/", **HTMX).content.decode()
    assert "Not applied: the memories changed since this was proposed" in html
    assert "Back in the queue:" in html and "was edited (v1 → v2" in html
    assert "still holds" in html
    assert _statuses(space)[proposal.pk] == "pending"
    assert Memory.objects.for_space(space).get(pk=older.pk).status == "active"


def test_approving_a_proposal_whose_memory_was_archived_retires_it_saying_why(editor, space, actor):
    proposal, older, _ = _supersession(space, actor)
    services.archive_memory(space, actor, older.pk)
    html = editor.post(f"/s/home/review/{proposal.pk}/approve/", **HTMX).content.decode()
    assert "Why retired:" in html and "was archived" in html
    assert _statuses(space)[proposal.pk] == "retired"
    assert Memory.objects.for_space(space).get(pk=older.pk).status == "archived"


def test_rejecting_with_htmx_returns_the_card(editor, space, actor):
    proposal, *_ = _supersession(space, actor)
    html = editor.post(f"/s/home/review/{proposal.pk}/reject/", **HTMX).content.decode()
    assert "Rejected: it will not be proposed again." in html
    assert _statuses(space)[proposal.pk] == "rejected"


def test_the_queue_page_makes_a_bounded_number_of_queries(
    viewer, space, actor, django_assert_max_num_queries
):
    memories = services.create_memories(
        space, actor, [{"content": f"Fact number {i}.", "subject": "n"} for i in range(100)]
    )
    for older, newer in zip(memories[::2], memories[1::2], strict=True):
        propose(
            space,
            "supersede",
            [str(older.pk), str(newer.pk)],
            [1, 1],
            {"superseded": str(older.pk), "by": str(newer.pk)},
            {"similarity": 0.9, "differs": {"numbers": {"before": ["1"], "after": ["2"]}}},
            score=0.9,
        )
    with django_assert_max_num_queries(10):
        html = viewer.get("/s/home/review/?operation=supersede").content.decode()
    assert html.count('class="card proposal"') == 50


# ---------------------------------------------------------------- bulk


def test_bulk_by_operation_asks_with_the_count_then_applies(editor, space, actor):
    supersession, *_ = _supersession(space, actor)
    merge = _merge(space, actor, ("Tomás cooks octopus.", "tomás cooks OCTOPUS"))
    ask = editor.post(
        "/s/home/review/approve/", {"operation": "merge", "decision": "approve"}, **HTMX
    )
    assert ask.status_code == 200
    assert "Approve 1 proposal?" in ask.content.decode()
    assert set(_statuses(space).values()) == {"pending"}
    done = editor.post(
        "/s/home/review/approve/",
        {"operation": "merge", "decision": "approve", "confirmed": "1"},
        follow=True,
    ).content.decode()
    assert "Applied 1 of 1." in done
    assert _statuses(space) == {supersession.pk: "pending", merge.pk: "applied"}


def test_bulk_by_score_takes_every_operation_at_or_above_it(editor, space, actor):
    supersession, *_ = _supersession(space, actor, score=0.91)
    merge = _merge(space, actor, ("Tomás cooks octopus.", "tomás cooks OCTOPUS"), score=0.97)
    ask = editor.post("/s/home/review/approve/", {"min_score": "0.95"}).content.decode()
    assert "Approve 1 proposal?" in ask and "merge near-duplicates: 1" in ask
    editor.post("/s/home/review/approve/", {"min_score": "0.95", "confirmed": "1"})
    assert _statuses(space) == {supersession.pk: "pending", merge.pk: "applied"}


def test_bulk_by_selection_decides_only_the_ticked_ones(editor, space, actor):
    supersession, *_ = _supersession(space, actor)
    merge = _merge(space, actor, ("Tomás cooks octopus.", "tomás cooks OCTOPUS"))
    other = _merge(space, actor, ("Rui plays chess.", "rui plays chess!"))
    chosen = {"ids": [str(merge.pk), str(other.pk)], "decision": "reject"}
    ask = editor.post("/s/home/review/approve/", chosen).content.decode()
    assert "Reject 2 proposals?" in ask
    assert ask.count('name="ids"') == 2  # the selection is carried to the confirmation
    done = editor.post("/s/home/review/approve/", {**chosen, "confirmed": "1"}, follow=True)
    assert "Rejected 2 of 2." in done.content.decode()
    assert _statuses(space) == {
        supersession.pk: "pending",
        merge.pk: "rejected",
        other.pk: "rejected",
    }


def test_bulk_counts_the_proposals_that_changed_and_were_rechecked(editor, space, actor):
    proposal, older, _ = _supersession(space, actor)
    merge = _merge(space, actor, ("Tomás cooks octopus.", "tomás cooks OCTOPUS"))
    services.update_memory(space, actor, older.pk, expected_version=1, content="Ana lives in Faro.")
    done = editor.post(
        "/s/home/review/approve/", {"min_score": "0", "confirmed": "1"}, follow=True
    ).content.decode()
    assert (
        "Applied 1 of 2. 1 had changed since they were proposed and were left alone; "
        "re-checked: 1 still hold and are back in the queue with fresh evidence."
    ) in done
    assert _statuses(space) == {proposal.pk: "pending", merge.pk: "applied"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"min_score": "1.5"}, "Ensure this value is less than or equal to 1"),
        ({"min_score": "lots"}, "The score is a number from 0 to 1."),
        ({"operation": "teleport"}, "Select a valid choice."),
        ({"ids": ["seven"]}, "Proposals are named by their number."),
        ({}, "Choose an operation or a score, or tick the proposals to decide."),
    ],
)
def test_bulk_with_bad_input_is_a_form_error_and_decides_nothing(editor, space, actor, data, error):
    _supersession(space, actor)
    response = editor.post("/s/home/review/approve/", {**data, "confirmed": "1"}, **HTMX)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert set(_statuses(space).values()) == {"pending"}


def test_bulk_with_nothing_matching_says_so(editor, space, actor):
    _supersession(space, actor, score=0.5)
    html = editor.post("/s/home/review/approve/", {"min_score": "0.99"}).content.decode()
    assert "Nothing to approve" in html and "with a score of at least 0.99" in html


def test_viewers_cannot_decide_in_bulk(viewer, space, actor):
    _supersession(space, actor)
    response = viewer.post("/s/home/review/approve/", {"min_score": "0", "confirmed": "1"})
    assert response.status_code == 403
    assert set(_statuses(space).values()) == {"pending"}


# ---------------------------------------------------------------- consolidate now


def test_consolidate_now_with_htmx_returns_the_panel_not_a_page(editor, space):
    response = editor.post("/s/home/review/run/", **HTMX)
    html = response.content.decode()
    job = Job.objects.for_space(space).get()
    assert response.status_code == 200 and "<html" not in html and "<body" not in html
    assert html.lstrip().startswith('<section id="consolidation-panel"')
    assert f'hx-get="/s/home/review/?job={job.pk}"' in html
    assert "every 1s" in html
    assert "HX-Location" not in response  # nothing sends the browser to the job page
    assert job.kind == "consolidate" and job.status == "queued"


def test_consolidate_now_while_a_run_is_going_follows_it_instead_of_starting_another(
    editor, space, outsider_space
):
    Job.objects.create(kind="consolidate", space=outsider_space)  # another space's run
    running = Job.objects.create(kind="consolidate", space=space)
    html = editor.post("/s/home/review/run/", **HTMX).content.decode()
    assert "Already consolidating this space" in html
    assert f'hx-get="/s/home/review/?job={running.pk}"' in html
    assert list(Job.objects.for_space(space).values_list("pk", flat=True)) == [running.pk]
    running.start(total=1)
    running.finish()
    editor.post("/s/home/review/run/", **HTMX)  # once it has ended, a new run starts
    assert Job.objects.for_space(space).count() == 2


def test_the_panel_polls_the_job_until_it_ends_then_reloads_the_queue(editor, space):
    job = Job.objects.create(kind="consolidate", space=space)
    poll = {"HTTP_HX_TARGET": "consolidation-panel", **HTMX}
    running = editor.get(f"/s/home/review/?job={job.pk}", **poll).content.decode()
    assert "<html" not in running and "every 1s" in running
    job.start(total=6)
    job.advance(1, merge_proposed=2, merge_applied=0)
    job.advance(1, link_proposed=0, link_applied=0)
    job.finish()
    done = editor.get(f"/s/home/review/?job={job.pk}", **poll).content.decode()
    assert "every 1s" not in done  # polling stops
    assert "merge near-duplicates: 2 proposed" in done
    assert "link related memories" not in done  # a step that found nothing is left out
    assert 'hx-trigger="load" hx-target="#review-queue"' in done


def test_the_card_list_reloads_alone(viewer, space, actor):
    proposal, *_ = _supersession(space, actor)
    response = viewer.get(
        "/s/home/review/?operation=supersede", HTTP_HX_TARGET="review-queue", **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<section id="review-queue"')
    assert f'id="proposal-{proposal.pk}"' in html


def test_without_javascript_the_review_page_shows_the_running_job(editor, space):
    response = editor.post("/s/home/review/run/", follow=True)
    html = response.content.decode()
    job = Job.objects.for_space(space).get()
    assert response.redirect_chain == [(f"/s/home/review/?job={job.pk}", 302)]
    assert "Consolidating this space" in html
    assert 'id="consolidation-panel"' in html and f"job #{job.pk}" in html
    # Later, without ?job=, the page still shows a consolidation that is running.
    assert f"job #{job.pk}" in editor.get("/s/home/review/").content.decode()


def test_a_job_of_another_space_is_not_shown(editor, space, outsider_space):
    job = Job.objects.create(kind="consolidate", space=outsider_space)
    html = editor.get(f"/s/home/review/?job={job.pk}").content.decode()
    assert f"job #{job.pk}" not in html


def _refuse(job_id: int) -> None:
    from kombu.exceptions import OperationalError

    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_an_unreachable_broker_is_said_in_the_panel(transactional_db, editor, space, monkeypatch):
    from apps.consolidation.tasks import consolidate_space

    monkeypatch.setattr(consolidate_space, "delay", _refuse)
    response = editor.post("/s/home/review/run/", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "task queue (broker) is unreachable" in html
    assert Job.objects.for_space(space).get().status == "failed"
