"""Procedural video data for the testbed: seeded, download-free clips of textured shapes."""
from .procedural import (MOTIONS, NUM_CLASSES, SHAPES, class_name, clip_params, make_batch,
                         render)

__all__ = ["MOTIONS", "NUM_CLASSES", "SHAPES", "class_name", "clip_params", "make_batch",
           "render"]
