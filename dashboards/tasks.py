"""Background jobs of the alerts: thin wrappers over the services."""

from celery import shared_task


@shared_task(soft_time_limit=200, time_limit=230)
def evaluate_alerts() -> dict | None:
    """Run every enabled alert rule (beat runs this every 5 minutes); None if a run was still going."""
    from dashboards.services import alerts_evaluate

    return alerts_evaluate()
