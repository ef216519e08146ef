"""What a finished job hands back: its pictures (encoded, kept in the job store or uploaded to S3) and its webhook."""

from .publisher import ResultPublisher, StorageStatus, output_format_of

__all__ = ["ResultPublisher", "StorageStatus", "output_format_of"]
