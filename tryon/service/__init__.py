"""The entry service's parts (``service.py`` declares the BentoML service and calls these).

- ``assembly.py``: the FastAPI app, ``compose`` (the parts, built in the service's ``__init__``), the
  task endpoint's try-on, GPU placement when the service class is defined;
- ``parts.py``: the parts built from ``Settings``: every engine's adapter, the job store, the result
  publisher (a new kind of store is chosen here);
- ``job_workers.py``: ``JobWorkers``, which choose the engine and run queued jobs with it;
- ``api_side.py``: ``ApiSide``, what the routes work on, and ``/health``;
- ``port_check.py``: the check, before ``bentoml serve`` binds its port, that no old server holds it.
"""
