"""Try-on engines, one folder each, listed in ``registry.py``; ``base.py`` is what they implement."""
