"""Virtual try-on: a person photo and a garment photo in, the person wearing the garment out."""

__version__ = "0.1.0"
