"""What an upload parses to (a sheet of rows) and what an import reports (counts and problems by row)."""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from production.excel.columns import SheetSpec, cell_text


@dataclass(frozen=True)
class RowError:
    """One problem of the file: the Excel row number, the column's header, the cell as written, and why."""

    row: int
    column: str
    value: str
    reason: str


@dataclass
class ImportReport:
    """What an import found and did: counts of rows, and every problem; nothing was written if there is one."""

    kind: str
    filename: str = ""
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    workshops_created: int = 0
    workshops_updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    def error(self, row: int, column: str, value: Any, reason: str) -> None:
        """Note a problem of one cell (or of the whole row when `column` is empty)."""
        self.errors.append(RowError(row=row, column=column, value=cell_text(value), reason=str(reason)))

    def counts(self) -> dict[str, int]:
        """The counts, for the audit trail and the command's summary."""
        counts = {name: getattr(self, name) for name in ("rows", "created", "updated", "unchanged")}
        if self.kind == "workcenters":
            counts |= {"workshops_created": self.workshops_created, "workshops_updated": self.workshops_updated}
        return counts

    def summary(self) -> str:
        """One sentence of counts in the user's language, for the page and the command."""
        text = _("%(rows)d rows: %(created)d new, %(updated)d changed, %(unchanged)d unchanged.") % self.counts()
        if self.kind == "workcenters" and (self.workshops_created or self.workshops_updated):
            text += " " + _("Workshops: %(created)d new, %(updated)d renamed.") % {
                "created": self.workshops_created,
                "updated": self.workshops_updated,
            }
        if self.dry_run:
            text = _("Checked only, nothing was written.") + " " + text
        return text


@dataclass
class Row:
    """One data row: the values that parsed, keyed by column, and the cells as written."""

    number: int
    values: dict[str, Any]
    raw: dict[str, Any]
    ok: bool = True


@dataclass
class Sheet:
    """The rows of an uploaded sheet, with the headers as the file spells them."""

    spec: SheetSpec
    headers: dict[str, str]
    rows: list[Row]

    def present(self, key: str) -> bool:
        return key in self.headers

    def header(self, key: str) -> str:
        return self.headers.get(key) or self.spec.column(key).header

    def fail(self, report: ImportReport, row: Row, key: str, reason: str) -> None:
        """Note a problem with the cell of `key` in `row`; the row is then not written."""
        report.error(row.number, self.header(key), row.raw.get(key), reason)
        row.ok = False
