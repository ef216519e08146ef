"""``tryon doctor``: the host's own check of the FASHN VTON engine, run after importing the models.

No server: it loads the stored model in this process, on the device the runner would use, and
reports, one line per check (ok / warn / fail / skipped): the environment (torch, CUDA, GPU, driver,
bfloat16, onnxruntime's providers), the stored models (licences, sha256 of their files), numerics
(device against CPU float32, bfloat16 against float32), the sampling speed and memory per batch
size, the out-of-memory split, one seed alone and inside a batch, the pose source, and one try-on of
the example photos written to a PNG. ``run.run_doctor`` runs them (importing torch); ``report``
holds the results and imports nothing heavy, so the command line can name the sections cheaply.
"""
