#!/usr/bin/env bash
# The Bento image's setup script (bentofile.yaml's docker.setup_script), run after requirements.txt is
# installed: the image is the GPU one (PyPI's torch is the CUDA build), so DWPose's onnxruntime (CPU)
# is replaced by onnxruntime-gpu, as the README's GPU install line does. One of the two, never both:
# they install the same module.
set -euxo pipefail
uv pip uninstall onnxruntime
uv pip install "onnxruntime-gpu>=1.17"
