"""Synthetic sub-metre port imagery with exact truth.

Modules, bottom to top: :mod:`.textures` (noise and ground materials), :mod:`.render`
(the mutable drawing canvas, oriented boxes, shadows from a height map), :mod:`.containers`
(palette, blocks of stacks), :mod:`.ships` (hulls, bridges, hatch covers, cranes),
:mod:`.lookalikes` (trucks, wagons, buses, roofs), :mod:`.sensor` (blur, noise, haze, JPEG,
cloud), then :mod:`.training` (small random patches for the detector), :mod:`.scene` (a
georeferenced port scene laid out from the AOIs, seen through :mod:`.observe`) and :mod:`.world` (voyages and the scenes an
analyst would have of them).

:mod:`.terminal` (with :mod:`.decks` and :mod:`.negatives`) is the v2 layout generator:
terminal layouts, occlusion by spreaders and hard-negative settings
(``training_sample(..., layouts="v2")``); :mod:`.lookalike_scenes` lays out whole look-alike
test scenes; :mod:`.mixes` parses family mixes (``ccount train --families``).

:mod:`.families` holds the rendering families (``classic``: the modules above; ``flat``:
hard-edged flat polygons, polygon shadows, its own sensor; ``photo``: procedural ground,
weathered corrugated containers, soft shadows with sky light, pansharpened sensor) that draw
the same layout, noted as plain data by :mod:`.record`.

Everything is a pure function of a seed; only :mod:`.scene` and :mod:`.world` write files,
through :func:`detector.imagery.raster.write_geotiff` and :mod:`detector.labels.io`.
"""

from __future__ import annotations

__all__ = ["TrainingSample", "training_sample"]

from .training import TrainingSample, training_sample
