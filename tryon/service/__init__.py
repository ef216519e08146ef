"""The entry service's parts (``service.py`` declares it): the job workers, the API side, built from settings."""
