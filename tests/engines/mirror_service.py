"""The service with the test-only mirror engine registered: ``bentoml serve tests.engines.mirror_service:TryOnService``.

BentoML imports this module in every process it starts, so the engine is registered in each before
the real service declares its runners.
"""

from tryon.engines.registry import register

from tryon.engines.mirror import MIRROR

register(MIRROR)

from service import TryOnService  # noqa: E402  (after the registration, on purpose)

__all__ = ["TryOnService"]
