import csv
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inbox.mentions import parse_mention
from inbox.models import Channel
from inbox.services.ingest import ingest
from socialcrm.payloads import FieldErrors
from socialcrm.progress import ProgressBar

BATCH = 500
TRUE, FALSE = {"1", "true", "yes", "y"}, {"0", "false", "no", "n", ""}
AUTHOR_COLUMNS = ("external_id", "handle", "name", "followers", "verified", "email", "profile_url")


class Command(BaseCommand):
    help = (
        "Import past mentions into a channel from CSV or JSON Lines (one mention object per line, as the "
        "ingest API takes). Valid rows are stored (duplicates skipped); invalid ones are listed with their "
        "line number and reason. Interrupted imports resume where they stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("channel", help="The channel's slug.")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=["csv", "jsonl"], help="Default: from the file's extension.")
        parser.add_argument("--restart", action="store_true", help="Ignore saved progress and start at the top.")

    def handle(self, *args, channel, file, format, restart, **options):
        target = Channel.objects.filter(slug=channel).first()
        if target is None:
            raise CommandError(
                f"No channel '{channel}'. Known: {', '.join(Channel.objects.values_list('slug', flat=True))}"
            )
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        format = format or ("csv" if file.suffix.lower() == ".csv" else "jsonl")
        checkpoint = file.with_name(file.name + ".import-progress")
        state = {"line": 0, "accepted": 0, "duplicates": 0, "rejected": []}
        if checkpoint.exists() and not restart:
            state = json.loads(checkpoint.read_text())
            self.stderr.write(
                f"Resuming after line {state['line']:,} (from {checkpoint.name}; --restart to start over)."
            )

        total = _count_rows(file, format)
        bar = ProgressBar(total, label=f"Importing {file.name}", stream=self.stderr)
        batch: list[tuple[int, object]] = []
        for done, (line, row) in enumerate(_rows(file, format), start=1):
            if line <= state["line"]:
                continue
            batch.append((line, row))
            if len(batch) == BATCH:
                self._store(target, batch, state, checkpoint)
                batch = []
                bar.update(done)
        if batch:
            self._store(target, batch, state, checkpoint)
        bar.update(total)
        bar.finish()
        checkpoint.unlink(missing_ok=True)

        self.stdout.write(
            f"accepted {state['accepted']:,}, duplicates {state['duplicates']:,}, rejected {len(state['rejected']):,}"
        )
        for line, reason in state["rejected"]:
            self.stdout.write(f"  line {line}: {reason}")

    def _store(self, channel, batch, state, checkpoint) -> None:
        mentions = []
        for line, row in batch:
            if isinstance(row, _Unreadable):
                state["rejected"].append([line, str(row)])
                continue
            try:
                mentions.append(parse_mention(row))
            except FieldErrors as invalid:
                state["rejected"].append([line, "; ".join(f"{k or 'row'}: {v}" for k, v in invalid.errors.items())])
        if mentions:
            result = ingest(channel=channel, mentions=mentions)
            state["accepted"] += result.accepted
            state["duplicates"] += result.duplicates
        state["line"] = batch[-1][0]
        checkpoint.write_text(json.dumps(state))


def _count_rows(file: Path, format: str) -> int:
    with file.open("rb") as handle:
        lines = sum(1 for _ in handle)
    return max(lines - 1, 0) if format == "csv" else lines


def _rows(file: Path, format: str):
    """(line number, mention object or the reason it is not one) for each data row."""
    with file.open(encoding="utf-8", errors="replace", newline="") as handle:
        if format == "jsonl":
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    yield line, json.loads(text)
                except json.JSONDecodeError as problem:
                    yield line, _Unreadable(f"not JSON ({problem.msg} at column {problem.colno})")
            return
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "text" not in reader.fieldnames:
            raise CommandError("The CSV needs a header row with at least external_id, text and author_external_id.")
        for row in reader:
            yield reader.line_num, _from_csv(row)


class _Unreadable(str):
    """A row that is not a mention object; parse_mention reports it as such."""


def _from_csv(row: dict) -> dict:
    mention = {key: value for key, value in row.items() if key and not key.startswith("author_") and value != ""}
    author = {col: row.get(f"author_{col}", "") for col in AUTHOR_COLUMNS if row.get(f"author_{col}", "") != ""}
    if "followers" in author:
        author["followers"] = int(author["followers"]) if author["followers"].strip().isdigit() else author["followers"]
    for owner, key in ((author, "verified"), (mention, "private")):
        if key in owner and owner[key].strip().lower() in TRUE | FALSE:
            owner[key] = owner[key].strip().lower() in TRUE
    mention["author"] = author
    return mention
