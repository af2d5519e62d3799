"""Precision and recall of entity extraction per kind, on sentences written and labelled
for it (tests/fixtures/entities_labelled.jsonl: one JSON object a line, with "text",
optionally "subject", "agent" and the space's token names "tokens", and "entities", the
[name, kind] pairs a careful reader finds).

    .venv/bin/python benchmarks/entity_precision.py [--data PATH] [--errors]

A finding counts for a kind when the sentence's labels have that name with that kind
(names compared normalised, as entities are); a found name of another kind, or none,
is a false positive of the kind found and a miss of the kind labelled. No database:
each line is judged as a space of its own, knowing its agent and tokens.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "entities_labelled.jsonl"
KINDS = ["person", "place", "organisation", "topic", "other"]


@dataclass
class Tally:
    found: int = 0
    right: int = 0
    labelled: int = 0

    @property
    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.labelled if self.labelled else 1.0


@dataclass
class Measured:
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})
    errors: list[str] = field(default_factory=list)
    sentences: int = 0


def predict(line: dict[str, Any]) -> set[tuple[str, str]]:
    """(normalised name, kind) of what extraction would propose for the line."""
    from apps.consolidation import entities
    from apps.memories.models import Memory

    memory = Memory(
        content=line["text"], subject=line.get("subject", ""), agent=line.get("agent", "")
    )
    never = {token: "an API token's name" for token in line.get("tokens", [])}
    if memory.agent:
        never[memory.agent] = "agent field"
    known = entities.known_names(never, {}, [memory])
    return {
        (normalized, candidate.verdict().kind)
        for normalized, candidate in entities.candidates(known, [memory]).items()
    }


def measure(path: Path = FIXTURE) -> Measured:
    from apps.memories.models import Entity

    measured = Measured()
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        measured.sentences += 1
        labelled = {(Entity.normalize(name), kind) for name, kind in line["entities"]}
        found = predict(line)
        for _, kind in labelled:
            measured.tallies[kind].labelled += 1
        for name, kind in found:
            measured.tallies[kind].found += 1
            if (name, kind) in labelled:
                measured.tallies[kind].right += 1
            else:
                measured.errors.append(f"found {name!r} as {kind}: {line['text']}")
        for name, kind in labelled - found:
            measured.errors.append(f"missed {name!r} ({kind}): {line['text']}")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FIXTURE)
    parser.add_argument("--errors", action="store_true", help="list every miss and mistake")
    args = parser.parse_args()
    measured = measure(args.data)
    print(f"{measured.sentences} sentences from {args.data.name}")
    print(f"{'kind':<14}{'found':>7}{'right':>7}{'labelled':>10}{'precision':>11}{'recall':>8}")
    for kind, tally in measured.tallies.items():
        print(
            f"{kind:<14}{tally.found:>7}{tally.right:>7}{tally.labelled:>10}"
            f"{tally.precision:>11.2f}{tally.recall:>8.2f}"
        )
    if args.errors:
        print()
        print("\n".join(sorted(measured.errors)))


if __name__ == "__main__":
    import common  # noqa: F401  (Django, for the models)

    main()
