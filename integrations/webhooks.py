"""Shopify order webhooks (orders/create, orders/updated, orders/paid, orders/cancelled) into the pipeline.

Polling stays the source of truth; a webhook only makes an order appear at once. The body is verified with the
shop's webhook secret (HMAC-SHA256 over the raw bytes) before anything is parsed.
"""

import json
import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.channels.base import RawOrder
from integrations.channels.shopify import normalise_webhook, verify_webhook
from integrations.models import ChannelAccount, SyncRun
from integrations.pipeline import IngestContext, ingest_page

logger = logging.getLogger(__name__)
ORDER_TOPICS = {"orders/create", "orders/updated", "orders/paid", "orders/cancelled"}
MAX_BODY_BYTES = 2 * 1024 * 1024


class WebhookOrders:
    """Reads the REST-shaped order JSON a webhook carries, for the pipeline."""

    normalise = staticmethod(normalise_webhook)


@csrf_exempt  # authenticated by the HMAC signature instead of a session
@require_POST
def shopify_webhook(request: HttpRequest, account_code: str) -> HttpResponse:
    """Verify, then write the order through the same pipeline as polling; 401 for a bad signature."""
    account = ChannelAccount.objects.filter(code=account_code, kind=ChannelAccount.Kind.SHOPIFY, enabled=True).first()
    if account is None:
        return JsonResponse({"code": "not_found", "detail": "unknown shop"}, status=404)
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return JsonResponse({"code": "too_large", "detail": "body too large"}, status=413)
    secret = account.get_credentials().get("webhook_secret", "")
    if not secret or not verify_webhook(body, request.headers.get("X-Shopify-Hmac-Sha256", ""), secret):
        logger.warning("shopify webhook with a bad signature for %s", account.code)
        return JsonResponse({"code": "bad_signature", "detail": "signature does not match"}, status=401)
    topic = request.headers.get("X-Shopify-Topic", "")
    if topic not in ORDER_TOPICS:
        return JsonResponse({"code": "ignored", "detail": f"topic {topic!r} is not handled"}, status=200)
    try:
        payload = json.loads(body)
        external_id = str(payload["id"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"code": "invalid", "detail": "body is not an order"}, status=400)
    run = SyncRun(account=account, trigger=SyncRun.Trigger.WEBHOOK, window_start=timezone.now(), pages=1)
    result = ingest_page(IngestContext.for_account(account, WebhookOrders()), [RawOrder(external_id, payload)])
    run.status = SyncRun.Status.SUCCEEDED
    run.fetched, run.created, run.updated = result.fetched, result.created, result.updated
    run.unchanged, run.anomalies, run.errors = result.unchanged, result.anomalies, result.errors
    run.finished_at = run.window_end = timezone.now()
    run.save()
    if result.anomalies:
        from integrations.services import announce_new_issues

        transaction.on_commit(lambda: announce_new_issues(account=account, run=run, result=result))
    return JsonResponse({"code": "ok", "created": result.created, "updated": result.updated})
