"""Rendering families: independent ways of drawing the same synthetic layout.

``classic`` is :mod:`detector.synth.training`'s own renderer (textured materials, height-map
shadows, its sensor); ``flat`` (:mod:`.flat`, :mod:`.flat_draw`, :mod:`.flat_sensor`,
:mod:`.flat_scene`) draws the same objects as hard-edged flat polygons with polygon shadows
and its own sensor. The registry (:mod:`.registry`) names the families and picks one per
sample from a mix.

Public names are loaded on first use (``lazy_loader``)."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["flat", "flat_draw", "flat_scene", "flat_sensor", "registry"],
    submod_attrs={
        "flat": ["flat_sample"],
        "flat_draw": ["FlatStyle", "draw_flat", "random_style"],
        "flat_scene": ["flat_scene_image"],
        "flat_sensor": ["FlatSensor", "apply_flat_sensor", "random_flat_sensor", "resize"],
        "registry": ["FAMILIES", "check_family", "pick_family"],
    },
)
