"""Retrieval evaluation on LoCoMo (Maharana et al., ACL 2024).

Each conversation is loaded into its own fresh space: every dialogue turn becomes an
episode and an episodic memory (text `'<speaker> said, "<text>"'`, plus
`' and shared <caption>'` for an image, as in the official retrieval code), dated
with its session's date. The memories are embedded by the same code the Celery
worker runs, every question is searched, and the official evidence recall is
computed: per question, the share of its evidence turns found in the top k
(1 when it has no evidence), averaged per category and overall.

With feedback (`evaluate(feedback_weights=...)`), each conversation's questions are
split in two halves by a stable hash: the first half is searched and every hit marked
useful (an evidence turn) or not useful, as an agent with the gold answers would; the
second half is then measured without and with the feedback prior.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Kind
from apps.retrieval.embedding import get_backend
from apps.retrieval.search import Filters, Weights, new_recall, search
from apps.retrieval.tasks import embed_all_pending
from apps.spaces.models import Space
from apps.spaces.services import purge_space

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
ACTOR = Actor.system("eval_locomo")


@dataclass
class Turn:
    dia_id: str
    speaker: str
    text: str
    session: int
    occurred_at: datetime


@dataclass
class Question:
    question: str
    category: int
    evidence: list[str]


@dataclass
class Conversation:
    sample_id: str
    turns: list[Turn]
    questions: list[Question]


def parse_session_date(raw: str) -> datetime:
    """'1:56 pm on 8 May, 2023' -> an aware datetime (the data has no time zone: UTC)."""
    return datetime.strptime(raw.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def normalize_evidence(raw: Iterable[str]) -> list[str]:
    """Split and repair malformed ids ('D8:6; D9:17', 'D:11:26', 'D30:05'); drop 'D'."""
    ids: list[str] = []
    for item in raw:
        for part in re.split(r"[;\s]+", str(item)):
            digits = re.findall(r"\d+", part)
            if len(digits) != 2:
                continue
            dia_id = f"D{int(digits[0])}:{int(digits[1])}"
            if dia_id not in ids:
                ids.append(dia_id)
    return ids


def turn_text(turn: dict[str, Any]) -> str:
    text = f'{turn["speaker"]} said, "{turn["text"]}"'
    if turn.get("blip_caption"):
        text += f" and shared {turn['blip_caption']}"
    return text


def load_conversations(path: Path, limit: int | None = None) -> list[Conversation]:
    samples = json.loads(path.read_text())
    conversations = []
    for sample in samples[:limit]:
        conv = sample["conversation"]
        turns: list[Turn] = []
        session_numbers = sorted(
            int(key.split("_")[1])
            for key in conv
            if re.fullmatch(r"session_\d+", key) and conv[key]
        )
        for number in session_numbers:
            started = parse_session_date(conv[f"session_{number}_date_time"])
            for index, turn in enumerate(conv[f"session_{number}"]):
                turns.append(
                    Turn(
                        dia_id=turn["dia_id"],
                        speaker=turn["speaker"],
                        text=turn_text(turn),
                        session=number,
                        occurred_at=started + timedelta(seconds=30 * index),
                    )
                )
        questions = [
            Question(item["question"], int(item["category"]), normalize_evidence(item["evidence"]))
            for item in sample["qa"]
        ]
        conversations.append(Conversation(sample["sample_id"], turns, questions))
    return conversations


def load_into_space(conversation: Conversation) -> Space:
    space = Space.objects.create(
        slug=f"locomo-{conversation.sample_id}-{uuid.uuid4().hex[:6]}",
        name=f"LoCoMo {conversation.sample_id} (evaluation)",
    )
    services.remember_conversation(
        space,
        ACTOR,
        [
            {
                "content": turn.text,
                "session": f"session_{turn.session}",
                "speaker": turn.speaker,
                "agent": turn.speaker,
                "role": "user",
                "occurred_at": turn.occurred_at,
                "metadata": {"dia_id": turn.dia_id},
            }
            for turn in conversation.turns
        ],
        remember=True,
    )
    return space


def ndcg(retrieved: list[str], relevant: set[str], k: int = 10) -> float:
    if not relevant:
        return 1.0
    dcg = sum(
        1 / math.log2(rank + 1) for rank, dia in enumerate(retrieved[:k], 1) if dia in relevant
    )
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


@dataclass
class ModeScores:
    recall: dict[int, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    ndcg10: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # Reciprocal rank of the first evidence turn found (0 if none), for questions
    # that have evidence.
    reciprocal_ranks: list[float] = field(default_factory=list)
    search_seconds: float = 0.0

    def add(self, question: Question, retrieved: list[str], ks: list[int]) -> None:
        relevant = set(question.evidence)
        for k in ks:
            found = sum(1 for dia in relevant if dia in retrieved[:k])
            value = found / len(relevant) if relevant else 1.0
            self.recall[k][CATEGORIES[question.category]].append(value)
            self.recall[k]["overall"].append(value)
        score = ndcg(retrieved, relevant)
        self.ndcg10[CATEGORIES[question.category]].append(score)
        self.ndcg10["overall"].append(score)
        if relevant:
            first = next((rank for rank, dia in enumerate(retrieved, 1) if dia in relevant), 0)
            self.reciprocal_ranks.append(1 / first if first else 0.0)

    def summary(self) -> dict[str, Any]:
        def mean(values: list[float]) -> float:
            return round(100 * sum(values) / len(values), 1) if values else 0.0

        groups = [*CATEGORIES.values(), "overall"]
        return {
            "recall": {
                f"@{k}": {g: mean(by[g]) for g in groups if by[g]}
                for k, by in sorted(self.recall.items())
            },
            "ndcg@10": {g: mean(self.ndcg10[g]) for g in groups if self.ndcg10[g]},
            "mrr": mean(self.reciprocal_ranks),
            "questions": len(self.ndcg10["overall"]),
            "search_seconds": round(self.search_seconds, 1),
        }


# Links, summaries and entities are what graph-expanded retrieval walks; the other
# operations are counted but left for review, as a person would.
EVAL_AUTO_APPLY = ["link", "summary", "entity"]
# Only the turns carry evidence ids: summaries made by consolidation are walked
# through, never ranked in a turn's place.
TURNS_ONLY = Filters(kinds=[Kind.EPISODIC])


def _ask(
    space: Space,
    questions: list[Question],
    mode: str,
    weights: Weights,
    scores: ModeScores,
    ks: list[int],
) -> None:
    began = time.perf_counter()
    for question in questions:
        result = search(
            space,
            question.question,
            mode=mode,
            k=max(ks),
            filters=TURNS_ONLY,
            weights=weights,
            record_access=False,
        )
        retrieved = [hit.memory.metadata.get("dia_id", "") for hit in result.hits]
        scores.add(question, retrieved, ks)
    scores.search_seconds += time.perf_counter() - began


def _consolidate(space: Space, counts: Counter[str], applied: Counter[str]) -> None:
    from apps.consolidation.services import consolidate

    space.settings = {**space.settings, "consolidation": {"auto_apply": EVAL_AUTO_APPLY}}
    space.save(update_fields=["settings"])
    report = consolidate(space)
    counts.update(report.proposed)
    applied.update(report.applied)
    embed_all_pending(space)  # the summaries


# The hits an agent sees and marks: the API's default k.
FEEDBACK_K = 10


def in_feedback_half(conversation: Conversation, question: Question) -> bool:
    """Whether the question is in the half that gives feedback: by a hash of the
    conversation and the question's words, so every run splits alike."""
    digest = hashlib.sha256(f"{conversation.sample_id}\n{question.question}".encode()).digest()
    return digest[0] % 2 == 0


def _give_feedback(
    space: Space, questions: list[Question], mode: str, weights: Weights, k: int
) -> Counter[str]:
    """Search each question and mark its hits as an agent knowing the gold evidence
    would: the evidence turns useful, the others not useful. Questions without
    evidence give none (there is nothing to tell right from wrong by)."""
    marks: Counter[str] = Counter()
    backend = get_backend()
    for question in questions:
        if not question.evidence:
            continue
        vector = backend.embed([question.question])[0]
        result = search(
            space,
            question.question,
            mode=mode,
            k=k,
            filters=TURNS_ONLY,
            weights=weights,
            record_access=False,
            vector=vector,
        )
        if not result.hits:
            continue
        recall = new_recall(space, result, ACTOR, vector, timezone.now())
        evidence = set(question.evidence)
        useful = [h.memory.pk for h in result.hits if h.memory.metadata.get("dia_id") in evidence]
        not_useful = [h.memory.pk for h in result.hits if h.memory.pk not in useful]
        services.record_feedback(space, ACTOR, recall.pk, useful=useful, not_useful=not_useful)
        marks.update(useful=len(useful), not_useful=len(not_useful))
    return marks


def evaluate_feedback(
    path: Path,
    mode: str,
    ks: list[int],
    feedback_weights: list[float],
    *,
    limit: int | None = None,
    weights: Weights | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """MRR and recall on the held-out half of each conversation's questions, without
    the feedback prior and with it at each of `feedback_weights`, after the other half
    gave feedback from the gold evidence."""
    started = time.perf_counter()
    weights = replace(weights or Weights.from_settings(), feedback=0.0)
    held_out = {0.0: ModeScores(), **{w: ModeScores() for w in feedback_weights}}
    marks: Counter[str] = Counter()
    halves: Counter[str] = Counter()
    conversations = load_conversations(path, limit)
    for conversation in conversations:
        space = load_into_space(conversation)
        try:
            embed_all_pending(space)
            giving = [q for q in conversation.questions if in_feedback_half(conversation, q)]
            measured = [q for q in conversation.questions if not in_feedback_half(conversation, q)]
            halves.update(feedback=len(giving), measured=len(measured))
            marks += _give_feedback(space, giving, mode, weights, FEEDBACK_K)
            for weight, scores in held_out.items():
                _ask(space, measured, mode, replace(weights, feedback=weight), scores, ks)
        finally:
            if not keep:
                purge_space(space, ACTOR, reason="evaluation finished")
    return {
        "dataset": str(path),
        "conversations": [c.sample_id for c in conversations],
        "mode": mode,
        "questions": dict(halves),
        "marks": dict(marks),
        "held_out": {f"feedback {w:g}": scores.summary() for w, scores in held_out.items()},
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def evaluate(
    path: Path,
    modes: list[str],
    ks: list[int],
    *,
    limit: int | None = None,
    weights: Weights | None = None,
    keep: bool = False,
    consolidated: bool = False,
    graph_weight: float = 1.0,
) -> dict[str, Any]:
    """Recall per mode; with `consolidated`, each space is then consolidated (links and
    summaries applied) and asked again with graph expansion at `graph_weight`."""
    started = time.perf_counter()
    weights = weights or Weights.from_settings()
    scores = {mode: ModeScores() for mode in modes}
    after = {mode: ModeScores() for mode in modes}
    proposed: Counter[str] = Counter()
    applied: Counter[str] = Counter()
    timings = {"load_seconds": 0.0, "embed_seconds": 0.0, "consolidate_seconds": 0.0}
    conversations = load_conversations(path, limit)
    for conversation in conversations:
        began = time.perf_counter()
        space = load_into_space(conversation)
        timings["load_seconds"] += time.perf_counter() - began
        try:
            began = time.perf_counter()
            embed_all_pending(space)
            timings["embed_seconds"] += time.perf_counter() - began
            for mode in modes:
                _ask(space, conversation.questions, mode, weights, scores[mode], ks)
            if not consolidated:
                continue
            began = time.perf_counter()
            _consolidate(space, proposed, applied)
            timings["consolidate_seconds"] += time.perf_counter() - began
            walking = replace(weights, graph=graph_weight)
            for mode in modes:
                _ask(space, conversation.questions, mode, walking, after[mode], ks)
        finally:
            if not keep:
                purge_space(space, ACTOR, reason="evaluation finished")
    report: dict[str, Any] = {
        "dataset": str(path),
        "conversations": [c.sample_id for c in conversations],
        "turns": sum(len(c.turns) for c in conversations),
        "modes": {mode: scores[mode].summary() for mode in modes},
        **{name: round(seconds, 1) for name, seconds in timings.items()},
    }
    if consolidated:
        report["consolidated"] = {
            "graph_weight": graph_weight,
            "proposed": dict(proposed),
            "applied": dict(applied),
            "modes": {f"{mode}+graph": after[mode].summary() for mode in modes},
        }
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    return report
