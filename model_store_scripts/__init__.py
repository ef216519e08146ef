"""Scripts that fill the BentoML model store: real models (``import_models``) and test models."""
