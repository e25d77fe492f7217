"""Filters shared by the API's filter sets (django-filter)."""

from datetime import UTC, datetime

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField, RangeField
from django_filters.widgets import DateRangeWidget


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, turned to UTC once read.

    Python reads offsets up to ±23:59, PostgreSQL stores only up to ±15:59: in UTC the same moment gives the same
    rows on either database. A moment that leaves the years 1–9999 once in UTC (9999-12-31T23:00-05:00) can be
    stored by neither and is an invalid date-time like a malformed one, not a crash.
    """

    def to_python(self, value: str | None) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcIsoDateTimeRangeField(RangeField):
    widget = DateRangeWidget

    def __init__(self, *args, **kwargs) -> None:
        super().__init__((UtcIsoDateTimeField(), UtcIsoDateTimeField()), *args, **kwargs)


class DateTimeFromToRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """`<name>_after` ≤ value ≤ `<name>_before`, each an ISO 8601 date-time (see UtcIsoDateTimeField)."""

    field_class = UtcIsoDateTimeRangeField
