"""FASHN VTON v1.5 (Apache-2.0): a pixel-space MMDiT try-on model, reimplemented with diffusers' FLUX blocks.

The model: ``transformer`` (the MMDiT), ``checkpoint`` (the published checkpoint's key map and strict
loading), ``sampling`` (schedule and guided Euler loop), ``pipeline`` (images and keypoints in,
pictures out, in batches), ``flops`` (the cost of a forward pass); see docs/fashn-vton.md.
Its inputs: ``canvas``, ``pose_map``, ``agnostic``, ``dwpose``, ``mediapipe_keypoints``; see
docs/fashn-vton-inputs.md.
"""
