import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from profiles.importing import ImportSummary, Rejected, check_header, import_batch, parse_row
from socialcrm.progress import ProgressBar

BATCH = 1000
SHOWN = 20
MAX_FIELD = 100_000  # characters in one cell; no column of ours is near it
# A cell starting with one of these is a formula to a spreadsheet; the rejects file defuses them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Command(BaseCommand):
    help = (
        "Import customers from the company's own systems (CRM, shop, help desk) from a CSV file with a header. "
        "Each row is matched to a customer by external_ref, email or phone, or creates one. Columns: "
        "external_ref, email, phone, name, tier, lifetime_value, tags (separated by ; or |), and optionally a "
        "record: record_kind (order, call, case, subscription, note), record_source, record_ref, record_title, "
        "record_status, record_amount, record_occurred_at. Invalid or ambiguous rows are rejected with their "
        "line and reason; the others go in. Running the same file again changes nothing more."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Check and count everything, then store nothing.")
        parser.add_argument("--rejects", type=Path, help="Write the rejected rows, with line and reason, to this CSV.")
        parser.add_argument("--delimiter", help="The column separator (default: guessed from the header: , ; or tab).")

    def handle(self, *args, file, dry_run, rejects, delimiter, **options):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        if rejects and rejects.resolve() == file.resolve():
            raise CommandError("--rejects must name another file than the one being imported.")
        csv.field_size_limit(MAX_FIELD)
        total = _count_rows(file)
        summary = ImportSummary()
        with file.open(encoding="utf-8-sig", newline="") as handle:
            delimiter = delimiter or _guess_delimiter(handle.readline())
            handle.seek(0)
            reader = csv.DictReader(handle, delimiter=delimiter)
            columns = [(name or "").strip().lower() for name in reader.fieldnames or []]
            reader.fieldnames = columns
            try:
                ignored = check_header(columns)
            except Rejected as problem:
                raise CommandError(str(problem)) from None
            if ignored:
                self.stderr.write(f"Ignoring columns this import does not know: {', '.join(ignored)}")
            bar = ProgressBar(total, label=f"Importing {file.name}", stream=self.stderr)
            try:
                with transaction.atomic():  # all or nothing: an interrupted import leaves no half
                    self._import(reader, summary, bar, source=file.name)
                    if dry_run:
                        transaction.set_rollback(True)
            except KeyboardInterrupt:
                raise CommandError("Interrupted: nothing was stored.") from None
            except csv.Error as problem:
                raise CommandError(
                    f"The row after line {reader.line_num} cannot be read as CSV ({problem}); nothing was stored."
                ) from None
            bar.finish()

        self.stdout.write(
            f"{'Dry run, nothing stored: would have ' if dry_run else ''}matched {summary.matched:,}, "
            f"created {summary.created:,}, rejected {len(summary.rejected):,} rows; "
            f"records created {summary.records_created:,}, updated {summary.records_updated:,}."
        )
        for line, reason in summary.rejected[:SHOWN]:
            self.stdout.write(f"  line {line}: {reason}")
        if len(summary.rejected) > SHOWN:
            more = len(summary.rejected) - SHOWN
            self.stdout.write(
                f"  … and {more:,} more{f' (all in {rejects})' if rejects else '; --rejects FILE lists all'}"
            )
        if rejects and summary.rejected:
            _write_rejects(file, rejects, summary.rejected, delimiter)

    def _import(self, reader, summary: ImportSummary, bar: ProgressBar, *, source: str) -> None:
        batch, done = [], 0
        for row in reader:
            done += 1
            if None in row:  # more fields than the header has
                summary.rejected.append((reader.line_num, f"{len(row[None])} more values than the header has columns"))
                continue
            try:
                batch.append(parse_row(reader.line_num, row))
            except Rejected as problem:
                summary.rejected.append((reader.line_num, str(problem)))
            if len(batch) == BATCH:
                import_batch(batch, summary, source=source)
                batch = []
                bar.update(done)
        if batch:
            import_batch(batch, summary, source=source)
        bar.update(done)


def _count_rows(file: Path) -> int:
    """Data rows (lines after the header), checking on the way that the file is UTF-8 before anything is stored."""
    lines = 0
    with file.open("rb") as handle:
        for lines, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CommandError(
                    f"{file} is not UTF-8 (line {lines}). Save it as 'CSV UTF-8' and import it again; "
                    "nothing was stored."
                ) from None
    if lines == 0:
        raise CommandError(f"{file} is empty: it needs a header row and at least one row.")
    return lines - 1


def _guess_delimiter(header: str) -> str:
    return max([",", ";", "\t"], key=header.count)


def _write_rejects(source: Path, target: Path, rejected: list[tuple[int, str]], delimiter: str) -> None:
    """The rejected rows as they were, after their line and reason; written whole or not at all."""
    reasons = dict(rejected)
    partial = target.with_name(target.name + ".partial")
    with (
        source.open(encoding="utf-8-sig", newline="") as handle,
        partial.open("w", encoding="utf-8", newline="") as out,
    ):
        reader = csv.reader(handle, delimiter=delimiter)
        writer = csv.writer(out)
        header = next(reader)
        writer.writerow(["line", "reason", *header])
        for values in reader:
            if reader.line_num in reasons:
                writer.writerow([reader.line_num, reasons[reader.line_num], *map(_inert, values)])
    partial.replace(target)


def _inert(cell: str) -> str:
    """The cell as text a spreadsheet will not run: "=HYPERLINK(...)" becomes "'=HYPERLINK(...)"."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
