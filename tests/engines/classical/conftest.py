"""The model store fixtures of ``tests/models`` (test models in a temporary store), for the runner tests."""

from tests.models.conftest import _quiet_libraries, empty_store, model_env, test_models  # noqa: F401
