import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.consolidation.evaluation import BadCases, Tally, evaluate, read_cases


class Command(BaseCommand):
    help = (
        "Evaluate consolidation on labelled cases (JSONL, the format of "
        "shared/datasets/consolidation/dev.jsonl): each case in a fresh space, embedded "
        "and consolidated with the shipped defaults; reports merge and supersede "
        "precision and recall, the false-change rate and the time per case."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--data", required=True, type=Path, help="cases, one JSON a line")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--second-opinion",
            action="store_true",
            help="let the configured chat model (MEMORYWEB_OPENAI_CHAT_MODEL) veto "
            "candidates; without it no language model is asked",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cases = read_cases(options["data"])
        except BadCases as exc:
            raise CommandError(str(exc)) from None
        result = evaluate(cases, second_opinion=options["second_opinion"])
        if options["json"]:
            self.stdout.write(json.dumps(result.figures()))
            return
        figures = result.overall.figures()
        write = self.stdout.write
        write(f"{len(cases)} cases from {options['data']}, embedded with {result.backend}")
        write("")
        write("| op | precision | recall | F1 |")
        write("| --- | --- | --- | --- |")
        for op in ("merge", "supersede"):
            row = figures[op]
            write(f"| {op} | {row['precision']:.2f} | {row['recall']:.2f} | {row['f1']:.2f} |")
        clean, no_change = figures["no_change_clean"]
        right, total = figures["fully_right"]
        write("")
        write(
            f"false changes: {figures['false_change_rate']:.1%} "
            f"(no-change cases clean: {clean} of {no_change})"
        )
        write(f"cases fully right: {right} of {total}")
        write(f"seconds per case: {result.seconds / total:.2f} ({result.seconds:.1f} s in all)")
        write("")
        write("| type | cases | merge P | merge R | supersede P | supersede R | fully right |")
        write("| --- | --- | --- | --- | --- | --- | --- |")
        for kind, tally in sorted(result.by_type.items()):
            write(self._row(kind, tally))

    @staticmethod
    def _row(kind: str, tally: Tally) -> str:
        f = tally.figures()
        right, total = f["fully_right"]
        return (
            f"| {kind} | {tally.cases} | {f['merge']['precision']:.2f} | "
            f"{f['merge']['recall']:.2f} | {f['supersede']['precision']:.2f} | "
            f"{f['supersede']['recall']:.2f} | {right} of {total} |"
        )
