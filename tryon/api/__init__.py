"""The documented HTTP API: FastAPI routes over the job store, with pydantic shapes for every answer."""

from .admission import AdmissionControl, AdmissionPolicy
from .app import admission_policy, attach_state, create_app, route_table
from .state import ServiceState

__all__ = [
    "AdmissionControl",
    "AdmissionPolicy",
    "ServiceState",
    "admission_policy",
    "attach_state",
    "create_app",
    "route_table",
]
