"""Background jobs on procrastinate (PostgreSQL-backed)."""

from shared.jobs.app import DEFAULT_RETRY, create_job_app
from shared.jobs.worker import retry_stalled_jobs, run_worker

__all__ = ["DEFAULT_RETRY", "create_job_app", "retry_stalled_jobs", "run_worker"]
