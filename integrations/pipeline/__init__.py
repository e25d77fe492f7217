"""The intake pipeline: clean → validate → transform → write, for marketplace polls and webhooks alike."""

from integrations.pipeline.checks import IssueSpec, SkuResolver, issue_message, validate
from integrations.pipeline.clean import clean_order
from integrations.pipeline.write import (
    IngestContext,
    PageResult,
    PageWriter,
    ingest_page,
    order_number,
    prepare_page,
)

__all__ = [
    "IngestContext",
    "IssueSpec",
    "PageResult",
    "PageWriter",
    "SkuResolver",
    "clean_order",
    "ingest_page",
    "issue_message",
    "order_number",
    "prepare_page",
    "validate",
]
