"""manage.py metrics_report --start YYYY-MM-DD --end YYYY-MM-DD [--csv]: CMS-0057-F metrics."""

import csv
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reviews.audit_params import EARLIEST, LATEST
from reviews.selectors.metrics import CSV_HEADER, metrics_for_period


def _date(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}.") from exc
    if not EARLIEST <= day <= LATEST:
        raise CommandError(f"{value} is outside {EARLIEST.isoformat()} to {LATEST.isoformat()}.")
    return day


def _cell(value) -> str:
    return "—" if value is None else str(value)


class Command(BaseCommand):
    help = (
        "Print the CMS-0057-F prior-authorization metrics for the requests whose initial "
        "determination falls in a period (inclusive, local calendar days)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--end", required=True, help="last day, YYYY-MM-DD (inclusive)")
        parser.add_argument(
            "--csv", dest="as_csv", action="store_true", help="write CSV instead of a table"
        )

    def handle(self, *args, start, end, as_csv=False, **options):
        start, end = _date(start), _date(end)
        if end < start:
            raise CommandError("The end of the period is before its start.")
        report = metrics_for_period(start=start, end=end)
        if as_csv:
            self._write_csv(report)
        else:
            self._write_table(report)

    def _write_csv(self, report) -> None:
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for row in report.rows:
            writer.writerow(row.as_csv_row())

    def _write_table(self, report) -> None:
        out = self.stdout
        out.write(
            f"CMS-0057-F prior-authorization metrics, {report.start.isoformat()} to "
            f"{report.end.isoformat()} (requests with an initial determination in the period)"
        )
        columns = [
            ("family", 28),
            ("urgency", 10),
            ("decided", 8),
            ("approved %", 11),
            ("partial %", 10),
            ("denied %", 9),
            ("appeal→appr %", 14),
            ("ext→appr %", 11),
            ("avg h", 9),
            ("median h", 9),
        ]
        out.write("  ".join(name.ljust(width) for name, width in columns))
        for row in report.rows:
            d = row.as_dict()
            values = [
                d["procedure_family"],
                d["urgency"],
                d["decided"],
                d["approved_pct"],
                d["partially_approved_pct"],
                d["denied_pct"],
                d["approved_after_appeal_pct"],
                d["approved_after_extension_pct"],
                d["average_hours_to_decision"],
                d["median_hours_to_decision"],
            ]
            out.write(
                "  ".join(
                    _cell(value).ljust(width)
                    for value, (_, width) in zip(values, columns, strict=True)
                )
            )
