"""Measure triage on a labelled CSV: per-class precision, recall and F1, macro scores, confusion matrix."""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from socialcrm.progress import ProgressBar
from triage.models import MessageType, Sentiment
from triage.pipeline import Item, decide

BATCH = 1000
KNOWN_LABELS = {
    "sentiment": set(Sentiment.values),
    "type": set(MessageType.values),
    "queue": None,  # any queue slug
}


class Command(BaseCommand):
    help = "Score triage against FILE.csv (columns text,label) for one task; stores nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--task", choices=sorted(KNOWN_LABELS), required=True)

    def handle(self, *args, file: Path, task: str, **options):
        texts, truth = _read(file, task)
        predicted: list[str] = []
        progress = ProgressBar(total=len(texts), label="Triaging", stream=self.stderr)
        for start in range(0, len(texts), BATCH):
            decisions = decide([Item(text=text) for text in texts[start : start + BATCH]])
            predicted += [_answer(decision, task) for decision in decisions]
            progress.update(len(predicted))
        progress.finish()
        self.stdout.write(report(truth=truth, predicted=predicted, task=task))


def _answer(decision, task: str) -> str:
    return {"sentiment": decision.sentiment, "type": decision.message_type, "queue": decision.queue_slug}[task]


def _read(file: Path, task: str) -> tuple[list[str], list[str]]:
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"text", "label"} - set(reader.fieldnames or [])
            if missing:
                raise CommandError(f"{file}: needs the columns text and label; missing {', '.join(sorted(missing))}.")
            rows = [(row["text"] or "", (row["label"] or "").strip()) for row in reader]
    except FileNotFoundError as problem:
        raise CommandError(f"{file}: no such file.") from problem
    except (UnicodeDecodeError, csv.Error) as problem:
        raise CommandError(f"{file}: not a UTF-8 CSV file ({problem}).") from problem
    if not rows:
        raise CommandError(f"{file}: no rows to score.")
    known = KNOWN_LABELS[task]
    unlabelled = [number for number, (_, label) in enumerate(rows, start=2) if not label]
    if unlabelled:
        raise CommandError(f"{file}: line {unlabelled[0]} has no label ({len(unlabelled)} such lines).")
    if known is not None:
        unknown = sorted({label for _, label in rows} - known)
        if unknown:
            raise CommandError(
                f"{file}: unknown {task} label(s) {', '.join(map(repr, unknown[:5]))}; use {', '.join(sorted(known))}."
            )
    return [text for text, _ in rows], [label for _, label in rows]


def report(*, truth: list[str], predicted: list[str], task: str) -> str:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    truth_labels = [label for label in labels if label in set(truth)]
    macro_recall = sum(r for label, r in zip(labels, recall, strict=True) if label in truth_labels) / len(truth_labels)
    macro_f1 = sum(f for label, f in zip(labels, f1, strict=True) if label in truth_labels) / len(truth_labels)
    width = max(len(label) for label in labels) + 2
    lines = [f"{task}: {len(truth):,} messages", "", f"{'':{width}}precision  recall  f1     support"]
    for label, p, r, f, n in zip(labels, precision, recall, f1, support, strict=True):
        lines.append(f"{label:{width}}{p:9.3f}  {r:6.3f}  {f:5.3f}  {n:7d}")
    lines += [
        "",
        f"macro-recall  {macro_recall:.3f}",
        f"macro-F1      {macro_f1:.3f}",
        f"accuracy      {sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth):.3f}",
        "",
        "confusion matrix (rows: true label, columns: predicted)",
        f"{'':{width}}" + "".join(f"{label[:10]:>11}" for label in labels),
    ]
    matrix = confusion_matrix(truth, predicted, labels=labels)
    for label, row in zip(labels, matrix, strict=True):
        lines.append(f"{label:{width}}" + "".join(f"{count:11d}" for count in row))
    return "\n".join(lines) + "\n"
