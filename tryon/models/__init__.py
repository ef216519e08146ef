"""Model code any engine may use: the model store, devices, fixed-size canvases, the clothes parser.

Runners batch requests by concatenating arrays, so every image travels as a ``canvas``: the photo
scaled to fit ``CANVAS_SIZE`` x ``CANVAS_SIZE`` and padded. ``canvas.py`` converts both ways.
"""
