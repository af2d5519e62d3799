import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.hygiene.evaluation import BadData, evaluate, read_cases
from apps.hygiene.findings import CATEGORIES
from apps.hygiene.scanner import SCANNER_VERSION


class Command(BaseCommand):
    help = (
        "Score the hygiene scanner on labelled memories (JSONL, the format of "
        "shared/datasets/hygiene/dev.jsonl): per-category precision and recall over "
        "lines, span overlap, and the time spent scanning."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--data", required=True, type=Path, help="memories, one JSON a line")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--errors", action="store_true", help="also list each wrong line and its spans"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cases = read_cases(options["data"])
        except BadData as exc:
            raise CommandError(str(exc)) from None
        result = evaluate(cases)
        figures = result.figures()
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        write = self.stdout.write
        write(f"{result.lines} lines from {options['data']}, scanner version {SCANNER_VERSION}")
        write("")
        write("| category | line P | line R | span P | span R | TP | FP | FN |")
        write("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for category in CATEGORIES:
            row = figures[category]
            write(
                f"| {category} | {row['precision']:.3f} | {row['recall']:.3f} | "
                f"{row['span_precision']:.3f} | {row['span_recall']:.3f} | "
                f"{row['tp']} | {row['fp']} | {row['fn']} |"
            )
        write("")
        write(f"scanning took {result.seconds:.3f} s ({figures['ms_per_line']:.3f} ms a line)")
        if options["errors"]:
            for miss in result.misses:
                write("")
                write(f"{miss.case.id} (line {miss.case.line}) {miss.category} {miss.kind}:")
                for span in miss.spans:
                    write(f"    {span}")
