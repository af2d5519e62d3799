"""The pair judgement behind merge and supersede proposals: values and where they
stand, cue words, whose statement it is, and the verdict on a pair; then the second
opinion a chat model may give on each candidate."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from apps.consolidation import services as consolidation
from apps.consolidation.judging import MERGE, SUPERSEDE, Statement, judge
from apps.consolidation.judging.cues import cues_in, is_past_event
from apps.consolidation.judging.grouping import decide
from apps.consolidation.judging.values import stem, values_in
from apps.consolidation.models import Proposal
from apps.memories import services
from tests.conftest import free_port

DAY = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def said(content, days=0, subject="Maya Costa", kind="fact", pk=None, relatives=()):
    when = DAY + timedelta(days=days)
    return Statement(pk or f"m{days}", content, subject, kind, when, when, frozenset(relatives))


def found(text, ignore=frozenset()):
    return [(v.kind, v.text, v.norm) for v in values_in(text, set(ignore))]


def test_it_reads_dates_times_amounts_and_counts():
    assert found("Ikaika flies to Tokyo on the 5th of April.") == [
        ("name", "Tokyo", "tokyo"),
        ("date", "the 5th of April", "5/4"),
    ]
    assert found("Rent is NZ$650 a week, due at 10 a.m. on 1 May.") == [
        ("amount", "NZ$650", "650"),
        ("time", "10 a.m.", "10:00"),
        ("date", "1 May", "1/5"),
    ]
    assert found("Pieter manages a team of six engineers, 2.5% more than in 2024.") == [
        ("number", "six", "6"),
        ("percent", "2.5%", "2.5"),
        ("year", "2024", "2024"),
    ]
    assert found("Call +44 20 7946 0018 or write to ana@example.org.") == [
        ("phone", "+44 20 7946 0018", "442079460018"),
        ("email", "ana@example.org", "ana@example.org"),
    ]


def test_value_spans_point_into_the_text():
    text = "Marta moved her dentist appointment to 9 November, same time."
    (date,) = values_in(text)
    assert text[date.start : date.end] == "9 November" == date.text
    assert date.as_evidence() == {"kind": "date", "text": "9 November", "span": [39, 49]}


def test_names_keep_particles_and_the_subject_is_not_a_value():
    assert found("Rafael surfs at Praia da Joaquina.", {"rafael"}) == [
        ("name", "Praia da Joaquina", "praia da joaquina")
    ]
    # A capital at a sentence start says nothing; the subject's name is not a value.
    assert found("Weekends mean surfing for Rafael.", {"rafael"}) == []
    # Digits inside a code are not a number.
    assert found("Code w12 is active.") == []


def test_a_word_and_its_forms_with_a_doubled_consonant_share_a_stem():
    assert stem("running") == stem("runs") == stem("run") == "run"
    assert stem("stopped") == stem("stops") == "stop"
    assert stem("buzzing") == stem("buzz")
    # And so "weekly running volume" is the frame of "runs ... a week".
    older = said("Ana now swims about 3 km a week.", 0, "Ana")
    newer = said("Ana's weekly swimming distance has reached about 5 km at peak.", 90, "Ana")
    assert judge(older, newer, 0.76).op == SUPERSEDE


def test_cue_words_are_told_apart_by_what_they_say():
    kinds = {
        (c.kind, c.text) for c in cues_in("Kai no longer bikes to work; he takes the train now.")
    }
    assert {("change", "no longer"), ("change", "now")} <= kinds
    assert ("repeat", "again") in {(c.kind, c.text) for c in cues_in("She called again.")}
    # "Instead of" states a preference, a left hand is no departure.
    assert not [c for c in cues_in("Attach PDFs instead of links.") if c.kind == "change"]
    assert not [c for c in cues_in("Yuki plays with her left hand.") if c.kind == "change"]
    assert [c.text for c in cues_in("Chiara left Studio Fiore.") if c.kind == "change"]
    assert is_past_event("Mei went to the gym on Monday.")
    assert not is_past_event("Omar's flight to Cairo is on 18 December.")


def test_a_paraphrase_is_a_merge_in_either_order():
    a = said("Sean prefers dark mode in every app.", 0)
    b = said("Sean prefers dark mode in all apps.", 20)
    for first, second in ((a, b), (b, a)):
        verdict = judge(first, second, 0.93)
        assert verdict.op == MERGE and verdict.older is a and verdict.newer is b


def test_a_changed_value_with_a_cue_supersedes_the_older_by_the_newer():
    newer = said("The gallery opening moved from 2 to 9 November.", 30, subject="Gallery")
    older = said("The gallery opening is on 2 November.", 0, subject="Gallery")
    verdict = judge(newer, older, 0.8)
    assert verdict.op == SUPERSEDE
    assert (verdict.older.id, verdict.newer.id) == (older.id, newer.id)
    (differs,) = verdict.evidence["differs"]
    assert differs["kind"] == "when"
    assert [v["text"] for v in differs["before"]] == ["2 November"]
    assert [v["text"] for v in differs["after"]] == ["9 November"]
    start, end = differs["after"][0]["span"]
    assert newer.content[start:end] == "9 November"
    assert [c["text"] for c in verdict.evidence["change_cues"]] == ["moved"]


def test_a_change_with_another_value_scores_at_most_one():
    # Bulk approval reads scores as 0-1; a close change with a cue must not pass 1.
    older = said("The gallery opening is on 2 November.", 0, subject="Gallery")
    newer = said("The gallery opening moved to 9 November.", 30, subject="Gallery")
    verdict = judge(older, newer, 0.97)
    assert verdict.op == SUPERSEDE
    assert verdict.evidence["differs"] and verdict.score == 1.0


def test_the_same_preference_negated_is_not_a_reversal():
    older = said("Aleksander prefers kilometres to miles.", 0, kind="preference")
    newer = said("Aleksander uses kilometres, never miles.", 90, kind="preference")
    verdict = judge(older, newer, 0.89)
    assert verdict.op == MERGE, verdict.reason


def test_different_subjects_are_never_merged_nor_superseded():
    verdict = judge(
        said("Grace is flying to Nairobi on 14 August.", 0, subject="Grace"),
        said("Grace is flying to Nairobi on 14 August.", 2, subject="Olu"),
        1.0,
    )
    assert verdict.op is None and verdict.reason == "they are about different subjects"


def test_a_statement_about_a_relative_is_not_the_subjects():
    verdict = judge(
        said("Priya is allergic to shellfish.", 0, subject="Priya Nair"),
        said("Priya's son Arav is allergic to shellfish.", 9, subject="Priya Nair"),
        0.89,
    )
    assert verdict.op is None and "arav" in verdict.reason
    # A relative named elsewhere in the subject's memories is the one a text starts with.
    verdict = judge(
        said("Deepak's daughter Kavya plays the violin.", 0, "Deepak", relatives={"Kavya"}),
        said("Kavya has switched from violin to cello.", 9, "Deepak", relatives={"Kavya"}),
        0.66,
    )
    assert verdict.op == SUPERSEDE


def test_events_of_a_series_stay_apart():
    first = said("Isabel called her grandmother on Sunday.", 0, kind="episodic")
    again = said("Isabel called her grandmother again on Sunday.", 7, kind="episodic")
    assert judge(first, again, 0.94).op is None
    # A plan is replaced when the newer one says it moved.
    plan = said("Omar's flight to Cairo is on 18 December.", 0, kind="episodic")
    moved = said("Omar's flight to Cairo is now on 15 December.", 19, kind="episodic")
    assert judge(plan, moved, 0.95).op == SUPERSEDE


def test_an_episode_is_replaced_only_by_a_move_or_a_cancellation_of_its_plan():
    plan = said("Bruno is going to the Lyon food fair on 12 October.", 0, kind="episodic")
    moved = said("Bruno rescheduled his Lyon food fair visit to 19 October.", 5, kind="episodic")
    assert judge(plan, moved, 0.82).op == SUPERSEDE
    dropped = said("Bruno cancelled his trip to the Lyon food fair.", 5, kind="episodic")
    assert judge(plan, dropped, 0.78).op == SUPERSEDE
    # A word of change without another date, time or place does not move the plan.
    excited = said("Bruno is now really excited about the Lyon food fair.", 5, kind="episodic")
    verdict = judge(plan, excited, 0.8)
    assert verdict.op is None, verdict.reason
    # Told in conversation, something new is another event, not a change of an earlier one.
    chat = said('Bruno said, "Hey! How have you been? Anything fun lately?"', 0, kind="episodic")
    news = said(
        'Bruno said, "Hey! I now bake bread every weekend, a new hobby!"', 40, kind="episodic"
    )
    assert judge(chat, news, 0.72).op is None


def test_a_fact_besides_another_or_a_habit_resumed_is_no_restatement():
    car = said("Eva doesn't own a car.", 0)
    licence = said("Eva doesn't have a driving licence either.", 300)
    assert judge(car, licence, 0.77).op is None
    vegetarian = said("Eva is a vegetarian.", 0, kind="preference")
    meat = said("Eva has started eating meat again.", 300, kind="preference")
    verdict = judge(vegetarian, meat, 0.76)
    assert verdict.op == SUPERSEDE
    assert [c["text"] for c in verdict.evidence["change_cues"]] == ["again"]


def test_a_one_off_exception_does_not_replace_a_habit():
    habit = said("Hugo has band practice every Wednesday at 19:00.", 0)
    once = said("Hugo's band practice this week is on Thursday instead.", 60)
    assert judge(habit, once, 0.9).op is None


def test_another_word_in_the_slot_is_neither_a_merge_nor_a_change():
    assert (
        judge(said("Ali doesn't eat pork.", 0), said("Ali doesn't eat shellfish.", 9), 0.79).op
        is None
    )
    # A name differing without a word of change: both can be true.
    verdict = judge(
        said("Tobias has a sister in Hamburg.", 0), said("Tobias has a sister in Munich.", 9), 0.86
    )
    assert verdict.op is None
    # A measure differing in the same frame is a new value.
    verdict = judge(
        said("Ravi weighs 92 kg.", 0), said("Ravi weighs 85 kg after his diet.", 200), 0.85
    )
    assert verdict.op == SUPERSEDE and verdict.evidence["differs"][0]["kind"] == "number"


def test_it_never_merges_texts_that_differ_in_a_number_that_reads_as_a_year():
    # "1987" reads as a year, "412" as a count: still two numbers in one place.
    older = said("Ticket 412 for the Porto warehouse goes to Inês.", 0, subject="")
    newer = said("Ticket 1987 for the Porto warehouse goes to Inês.", 1, subject="")
    verdict = judge(older, newer, 0.97)
    assert verdict.op != MERGE
    (differs,) = verdict.evidence["differs"]
    assert differs["kind"] == "number"
    assert [v["text"] for v in differs["before"]] == ["412"]
    assert [v["text"] for v in differs["after"]] == ["1987"]
    # In words a count and a year can say one thing.
    verdict = judge(
        said("Farah has sung in the choir for about six years.", 0),
        said("Farah has sung in the choir since 2019.", 9),
        0.86,
    )
    assert verdict.evidence["differs"] == []


def test_a_newer_statement_of_the_slot_from_a_date_replaces_the_older_and_is_no_merge():
    older = said("Sven is a data analyst at Brightwave Media.", 0, "Sven")
    newer = said("Sven leads the data team at Kestrel Insurance since 3 March.", 90, "Sven")
    verdict = judge(older, newer, 0.66)
    assert verdict.op == SUPERSEDE and "3 March" in verdict.reason
    # At the same place, a new role from a month replaces the old role, not a commute.
    role = said("Sven teaches chemistry at Oakfield College.", 0, "Sven")
    head = said("Sven is deputy head at Oakfield College from January.", 90, "Sven")
    assert judge(role, head, 0.8).op == SUPERSEDE
    commute = said("Sven walks 3 km to Oakfield College.", 1, "Sven")
    assert judge(commute, head, 0.74).op is None
    # "Since" after a perfect says how long, not from when something new holds.
    verdict = judge(
        said("Sven has sung in a choir for about ten years.", 0, "Sven"),
        said("Sven has been singing in a choir since 2015.", 9, "Sven"),
        0.86,
    )
    assert verdict.op == MERGE, verdict.reason


def test_a_fact_told_besides_another_is_neither_a_merge_nor_a_change():
    # "Also" adds a fact: both hold.
    shop = said("Yara, Omar's cousin, manages the bakery on Rua Nova.", 0, "Omar")
    more = said("Yara, Omar's cousin, also does the bakery's accounts now.", 60, "Omar")
    assert judge(shop, more, 0.7).op is None
    # ... unless the older one allowed only one way.
    only = said("Omar takes orders by email only.", 0, "Omar")
    both = said("Omar now takes orders by phone as well.", 60, "Omar")
    assert judge(only, both, 0.8).op == SUPERSEDE
    # An age only one gives, while the other tells more of its own: two facts.
    dog = said("Omar has a seven-year-old dog called Bolt.", 0, "Omar")
    hip = said("Bolt, Omar's dog, has a bad hip and takes daily painkillers.", 60, "Omar")
    verdict = judge(dog, hip, 0.76)
    assert verdict.op is None and verdict.reason == "each says something the other does not"


def test_statements_headed_by_different_topics_are_about_different_things():
    warmup = said("Omar's warm-up plan: ten minutes of skipping, then drills.", 0, "Omar")
    cooldown = said("Omar's cool-down: cut the pace and stretch for ten minutes.", 30, "Omar")
    verdict = judge(warmup, cooldown, 0.62)
    assert verdict.op is None and verdict.reason == "they name different topics"


def test_a_group_merges_only_when_every_pair_does_and_chains_keep_their_steps():
    s = {
        "a": said("Jonas drinks his coffee black.", 0, pk="a"),
        "b": said("Jonas takes his coffee black.", 10, pk="b"),
        "c": said("Jonas drinks black coffee.", 20, pk="c"),
        "d": said("Jonas drinks tea in the evening.", 30, pk="d"),
    }
    decided = decide(s, [("a", "b", 0.95), ("a", "c", 0.93), ("b", "c", 0.94), ("c", "d", 0.74)])
    (group,) = decided.merges
    assert {v.older.id for v in group} | {v.newer.id for v in group} == {"a", "b", "c"}
    chain = {
        "x": said("Leila's wedding is on 14 June.", 0, pk="x"),
        "y": said("Leila moved her wedding to 21 June.", 10, pk="y"),
        "z": said("Leila postponed the wedding again, it is now on 6 September.", 20, pk="z"),
    }
    decided = decide(chain, [("x", "y", 0.8), ("y", "z", 0.75), ("x", "z", 0.78)])
    steps = {(v.older.id, v.newer.id) for v in decided.supersessions}
    assert steps == {("x", "y"), ("y", "z")}  # x→z is implied, not proposed again


def test_a_pair_gets_one_proposal_at_most(space, actor, embed_now):
    day = datetime.now(UTC) - timedelta(days=40)
    services.create_memories(
        space,
        actor,
        [
            {"content": "Jamal lives in Amman.", "subject": "Jamal", "occurred_at": day},
            {
                "content": "Jamal now lives in Dubai.",
                "subject": "Jamal",
                "occurred_at": day + timedelta(days=30),
            },
            {"content": "Jamal lives in Amman!", "subject": "Jamal", "occurred_at": day},
        ],
    )
    embed_now(space)
    merges = consolidation.propose_merges(space)
    supersedes = consolidation.propose_supersessions(space)
    pairs = [frozenset(p.memory_ids) for p in merges + supersedes if len(p.memory_ids) == 2]
    assert len(pairs) == len(set(pairs))
    assert len(merges) == 1 and merges[0].evidence["same_text"] is True
    assert {frozenset(p.memory_ids) for p in supersedes}.isdisjoint(
        {frozenset(p.memory_ids) for p in merges}
    )
    assert all(p.change["by"] != p.change["superseded"] for p in supersedes)
    assert supersedes and all(p.evidence["reason"] for p in supersedes)


def test_a_recheck_judges_the_current_versions(space, actor, embed_now):
    day = datetime.now(UTC) - timedelta(days=40)
    older, newer = services.create_memories(
        space,
        actor,
        [
            {"content": "Omar's flight to Cairo is on 18 December.", "subject": "Omar",
             "occurred_at": day},
            {"content": "Omar's flight to Cairo is now on 15 December.", "subject": "Omar",
             "occurred_at": day + timedelta(days=5)},
        ],
    )  # fmt: skip
    embed_now(space)
    (proposal,) = consolidation.propose_supersessions(space)
    from apps.consolidation.services import supersessions

    held = supersessions.recheck(space, proposal)
    assert held.holds and held.change == {"superseded": str(older.pk), "by": str(newer.pk)}
    services.update_memory(
        space,
        actor,
        newer.pk,
        expected_version=newer.version,
        content="Omar's flight to Cairo is on 18 December as planned.",
    )
    gone = supersessions.recheck(space, proposal)
    assert not gone.holds and gone.reason
    assert gone.reason.startswith("the newer memory")


class FakeChat(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeChat.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        question = body["messages"][-1]["content"]
        word = "no" if "Tomás" in question else "yes"  # vetoes the candidate about Tomás
        payload = json.dumps({"choices": [{"message": {"content": word}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    FakeChat.requests = []
    server = HTTPServer(("127.0.0.1", free_port()), FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


@pytest.fixture
def two_duplicates(space, actor, hashing_backend, embed_now):
    created = services.create_memories(
        space,
        actor,
        [
            {"content": "Maya likes green tea.", "subject": "Maya"},
            {"content": "maya likes green tea!", "subject": "Maya"},
            {"content": "Tomás opens the restaurant in June.", "subject": "Tomás"},
            {"content": "Tomás opens the restaurant in June!!", "subject": "Tomás"},
        ],
    )
    embed_now(space)
    return created


def test_a_chat_model_may_veto_a_candidate(space, two_duplicates, chat_server, settings):
    settings.OPENAI_BASE_URL = chat_server
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_CHAT_MODEL = "judge-small"
    (made,) = consolidation.propose_merges(space)
    maya = {str(m.pk) for m in two_duplicates[:2]}
    assert {str(pk) for pk in made.memory_ids} == maya
    assert made.evidence["second_opinion"] == "confirmed"
    assert len(FakeChat.requests) == 2
    request = FakeChat.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "judge-small"
    assert Proposal.objects.for_space(space).count() == 1  # the vetoed one is not stored


def test_without_an_answer_the_method_stands(space, two_duplicates, settings):
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    settings.OPENAI_CHAT_MODEL = "judge-small"
    settings.OPENAI_TIMEOUT_SECONDS = 2
    made = consolidation.propose_merges(space)
    assert len(made) == 2
    assert {p.evidence["second_opinion"] for p in made} == {"unavailable"}


def test_without_a_chat_model_no_one_is_asked(space, two_duplicates, chat_server, settings):
    settings.OPENAI_BASE_URL = chat_server
    settings.OPENAI_CHAT_MODEL = ""
    assert len(consolidation.propose_merges(space)) == 2
    assert FakeChat.requests == []
