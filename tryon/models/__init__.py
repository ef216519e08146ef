"""The learned models the runners host, with batch APIs over fixed-size square canvases.

Runners batch requests by concatenating arrays, so every image travels as a ``canvas``: the photo
scaled to fit ``CANVAS_SIZE`` x ``CANVAS_SIZE`` and padded. ``canvas.py`` converts both ways.
"""
