import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.retrieval.locomo import CATEGORIES, evaluate, evaluate_feedback
from apps.retrieval.search import MODES


class Command(BaseCommand):
    help = (
        "Evaluate retrieval on LoCoMo: load each conversation into a fresh space, embed it, "
        "ask every question and report the official evidence recall@k and NDCG@10."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--data", required=True, type=Path, help="locomo JSON file")
        parser.add_argument("--mode", nargs="+", choices=MODES, default=["hybrid"])
        parser.add_argument("--k", nargs="+", type=int, default=[1, 5, 10, 25])
        parser.add_argument(
            "--limit", type=int, default=None, help="only the first N conversations"
        )
        parser.add_argument(
            "--keep", action="store_true", help="keep the evaluation spaces instead of purging them"
        )
        parser.add_argument(
            "--consolidated",
            action="store_true",
            help="then consolidate each space (links and summaries applied) and ask again "
            "with graph-expanded retrieval",
        )
        parser.add_argument(
            "--graph-weight", type=float, default=1.0, help="weight of the graph expansion"
        )
        parser.add_argument(
            "--feedback",
            nargs="+",
            type=float,
            metavar="WEIGHT",
            help="give feedback from the gold evidence on half of each conversation's "
            "questions, then measure the other half without the feedback prior and with it "
            "at each WEIGHT (first --mode only)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["data"]
        if not path.is_file():
            raise CommandError(f"no LoCoMo file at {path}")
        if any(k < 1 for k in options["k"]):
            raise CommandError("--k values must be positive")
        if options["graph_weight"] < 0:
            raise CommandError("--graph-weight must not be negative")
        if options["feedback"]:
            if any(w <= 0 for w in options["feedback"]):
                raise CommandError("--feedback weights must be positive")
            report = evaluate_feedback(
                path,
                options["mode"][0],
                sorted(set(options["k"])),
                sorted(set(options["feedback"])),
                limit=options["limit"],
                keep=options["keep"],
            )
            if options["json"]:
                self.stdout.write(json.dumps(report))
            else:
                self._print_feedback(report)
            return
        report = evaluate(
            path,
            options["mode"],
            sorted(set(options["k"])),
            limit=options["limit"],
            keep=options["keep"],
            consolidated=options["consolidated"],
            graph_weight=options["graph_weight"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        self._print_table(report)

    def _print_table(self, report: dict[str, Any]) -> None:
        groups = [*CATEGORIES.values(), "overall"]
        self.stdout.write(
            f"LoCoMo: {len(report['conversations'])} conversations, {report['turns']} turns; "
            f"load {report['load_seconds']}s, embed {report['embed_seconds']}s, "
            f"total {report['total_seconds']}s"
        )
        header = f"{'mode':14} {'metric':9} " + " ".join(f"{g:>11}" for g in groups)
        self.stdout.write(header)
        modes = dict(report["modes"])
        consolidated = report.get("consolidated")
        if consolidated:
            modes.update(consolidated["modes"])
        for mode, scores in modes.items():
            rows = [(f"R{k}", by) for k, by in scores["recall"].items()]
            rows.append(("NDCG@10", scores["ndcg@10"]))
            for metric, by in rows:
                cells = " ".join(f"{by.get(g, 0.0):>11.1f}" for g in groups)
                self.stdout.write(f"{mode:14} {metric:9} {cells}")
            self.stdout.write(
                f"{mode:14} {scores['questions']} questions searched in {scores['search_seconds']}s"
            )
        if consolidated:
            self.stdout.write(
                f"consolidation {report['consolidate_seconds']}s; proposed "
                f"{consolidated['proposed']}; applied {consolidated['applied']}"
            )

    def _print_feedback(self, report: dict[str, Any]) -> None:
        questions = report["questions"]
        self.stdout.write(
            f"LoCoMo feedback, {report['mode']}: {len(report['conversations'])} conversations; "
            f"{questions.get('feedback', 0)} questions gave feedback "
            f"({report['marks']}), {questions.get('measured', 0)} held out; "
            f"total {report['total_seconds']}s"
        )
        ks = list(next(iter(report["held_out"].values()))["recall"])
        header = " ".join(f"R{k}".rjust(6) for k in ks)
        self.stdout.write(f"{'held-out half':16} {'MRR':>6} {header}")
        for name, scores in report["held_out"].items():
            cells = " ".join(f"{scores['recall'][k]['overall']:>6.1f}" for k in ks)
            self.stdout.write(f"{name:16} {scores['mrr']:>6.1f} {cells}")
