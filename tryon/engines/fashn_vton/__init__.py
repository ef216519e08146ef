"""FASHN VTON v1.5 (Apache-2.0): a pixel-space MMDiT try-on model, reimplemented with diffusers' FLUX blocks.

Modules: ``transformer`` (the model), ``checkpoint`` (the published checkpoint's key map and strict
loading), ``sampling`` (schedule and guided Euler loop), ``pipeline`` (images in, picture out),
``flops`` (the cost of a forward pass). See docs/fashn-vton.md.
"""
