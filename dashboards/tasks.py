"""Background jobs of the alerts: thin wrappers over the services."""

from celery import shared_task


@shared_task(soft_time_limit=200, time_limit=230)
def evaluate_alerts() -> dict | None:
    """Run every enabled alert rule (beat runs this every 5 minutes); None if a run was still going."""
    from dashboards.services import alerts_evaluate

    return alerts_evaluate()


@shared_task(soft_time_limit=270, time_limit=300)
def generate_capacity_workbook(job_id: str) -> str | None:
    """Build a monthly capacity analysis workbook asked for on the analytics page; returns its final status."""
    from dashboards.capacity_workbook import capacity_job_run

    job = capacity_job_run(job_id)
    return job["status"] if job else None
