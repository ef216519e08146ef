"""What a finished job hands back: its picture (kept in the job store, or uploaded to S3) and its webhook."""

from .publisher import ResultPublisher, StorageStatus

__all__ = ["ResultPublisher", "StorageStatus"]
