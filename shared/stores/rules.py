"""The job-store rules both implementations apply inside their transactions: who may claim a
job, and which writes are refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.jobs import Job
from shared.stores.base import Lease, LeaseLostError, TerminalJobError


def claimable(job: Job, lease: Lease | None, *, owner: str, now: float) -> bool:
    """Not terminal, its next action due, and no one else holds a live lease."""
    if job.terminal:
        return False
    if lease is not None and lease.owner != owner and lease.expires_at > now:
        return False
    return job.next_action_at is None or job.next_action_at <= now


def check_change(
    stored: Job, new: Job, lease: Lease | None, *, owner: str | None, now: float
) -> None:
    """Refuse any change to a terminal job, and a leased write by a worker that lost the lease
    (``owner`` None: an unleased write, e.g. a webhook, which only the terminal rule binds)."""
    if stored.terminal and new != stored:
        raise TerminalJobError(f"job {stored.job_id} is {stored.status.value}; it never changes")
    if owner is not None and (lease is None or lease.owner != owner):
        holder = lease.owner if lease else "nobody"
        raise LeaseLostError(f"job {stored.job_id} is leased to {holder}, not {owner}")


def lease_to_doc(lease: Lease) -> dict[str, Any]:
    return {"owner": lease.owner, "expiresAt": lease.expires_at}


def lease_from_doc(doc: Mapping[str, Any]) -> Lease | None:
    raw = doc.get("lease")
    if not raw:
        return None
    return Lease(owner=str(raw["owner"]), expires_at=float(raw["expiresAt"]))
