"""Job bookkeeping: durable records, a store interface, and the workers that run queued jobs.

Nothing here knows about HTTP or about image science: a job's work is a function handed in.
"""

from .records import JobInputs, JobRecord, JobResult, JobStatus, StoredPicture
from .redis_store import RedisJobStore
from .store import JobStore, QueueFull, StoreFull
from .sqlite_store import SQLiteJobStore
from .workers import WorkerPool

__all__ = [
    "JobInputs",
    "JobRecord",
    "JobResult",
    "JobStatus",
    "JobStore",
    "QueueFull",
    "RedisJobStore",
    "SQLiteJobStore",
    "StoreFull",
    "StoredPicture",
    "WorkerPool",
]

