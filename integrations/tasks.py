"""Background jobs of the intake: thin wrappers that take ids and call services."""

from celery import shared_task

from integrations import services


@shared_task(soft_time_limit=12 * 60, time_limit=13 * 60)
def poll_channel(account_id: int, trigger: str = "schedule") -> int | None:
    """Poll one channel account; returns the SyncRun id, or None if another poll holds it."""
    run = services.poll_account(account_id=account_id, trigger=trigger)
    return run.pk if run else None


@shared_task(soft_time_limit=45, time_limit=50)
def poll_due_channels() -> list[int]:
    """Start a poll for every account whose interval has passed (beat runs this every minute)."""
    due = services.due_account_ids()
    for account_id in due:
        poll_channel.delay(account_id)
    return due


@shared_task(soft_time_limit=45, time_limit=50)
def deliver_notifications() -> dict:
    """Send the notifications that are due, within each robot's per-minute limit."""
    from integrations.notify.services import deliver_due_notifications

    return deliver_due_notifications()


@shared_task(soft_time_limit=240, time_limit=270)
def drain_erp_outbox() -> dict:
    """Push confirmed orders into the ERP (beat runs this every minute; a run stops early if the ERP struggles)."""
    from dataclasses import asdict

    from integrations.erp.outbox import drain_erp_outbox as drain

    return asdict(drain())


@shared_task(soft_time_limit=540, time_limit=570)
def pull_erp_production_orders() -> int | None:
    """Turn newly audited ERP production orders into scheduled work orders (beat runs this every 10 minutes)."""
    from integrations.erp.production_orders import erp_pull_production_orders_run

    run = erp_pull_production_orders_run()
    return run.pk if run else None


@shared_task(soft_time_limit=540, time_limit=570)
def pull_erp_data(kinds: list[str] | None = None, trigger: str = "schedule") -> list[int]:
    """Pull master data (or the given kinds) from the ERP incrementally; returns the SyncRun ids."""
    from integrations.erp.master_data import MASTER_DATA_KINDS, erp_pull

    runs = [erp_pull(kind=kind, trigger=trigger) for kind in (kinds or MASTER_DATA_KINDS)]
    return [run.pk for run in runs if run is not None]


@shared_task(soft_time_limit=120, time_limit=150)
def refresh_today_shipments() -> int:
    """Recompute today's shipments summary into the cache (beat runs this every 5 minutes)."""
    from integrations.reconciliation import today_shipments_refresh

    return len(today_shipments_refresh().rows)
