"""Rendering families: independent ways of drawing the same synthetic layout.

``classic`` is :mod:`detector.synth.training`'s own renderer (textured materials, height-map
shadows, its sensor); ``flat`` (:mod:`.flat`, :mod:`.flat_draw`, :mod:`.flat_sensor`,
:mod:`.flat_scene`) draws the same objects as hard-edged flat polygons with polygon shadows
and its own sensor; ``photo`` (:mod:`.photo` and its ``photo_*`` modules) draws them
photo-like: procedural ground, weathered corrugated containers, prisms seen off nadir in a
G-buffer, soft shadows with sky light, light masts, pansharpening and JPEG; ``relief``
(:mod:`.relief` and its ``relief_*`` modules) burns them into a height field of four-band
reflectances, lit and seen from the field alone (slope shading, a horizon march for
shadows, walls swept up column by column), with a sensor of its own; ``oblique``
(:mod:`.oblique` and its ``oblique_*`` modules), designed apart from the others and in no
training recipe (:data:`.registry.HELD_OUT`), rasterises them as prisms seen by a camera
off nadir, shadow-maps the sun, and images them with a pan + multispectral sensor and
pansharpening. The registry
(:mod:`.registry`) names the families and picks one per sample from a mix.

Public names are loaded on first use (``lazy_loader``)."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=[
        "flat",
        "flat_draw",
        "flat_scene",
        "flat_sensor",
        "oblique",
        "oblique_geom",
        "oblique_light",
        "oblique_look",
        "oblique_scene",
        "oblique_sensor",
        "oblique_snow",
        "photo",
        "photo_draw",
        "photo_ground",
        "photo_light",
        "photo_look",
        "photo_scene",
        "photo_sensor",
        "photo_surface",
        "registry",
        "relief",
        "relief_draw",
        "relief_look",
        "relief_scene",
        "relief_sensor",
    ],
    submod_attrs={
        "flat": ["flat_sample"],
        "flat_draw": ["FlatStyle", "draw_flat", "random_style"],
        "flat_scene": ["flat_scene_image"],
        "flat_sensor": ["FlatSensor", "apply_flat_sensor", "random_flat_sensor", "resize"],
        "oblique": ["ObliqueRender", "oblique_sample", "render_oblique", "seen_tops"],
        "oblique_geom": ["CODES", "Prisms", "draw_view", "sun_heights"],
        "oblique_light": ["WATER", "ground_layer", "radiance", "sun_lean", "view_vector"],
        "oblique_look": [
            "CARRIERS",
            "GROUNDS",
            "ObliqueLook",
            "part_paint",
            "smooth_noise",
            "stack_paints",
        ],
        "oblique_scene": ["oblique_scene_image"],
        "oblique_sensor": ["ObliqueSensor", "apply_oblique_sensor", "random_oblique_sensor"],
        "oblique_snow": ["apply_oblique_snow"],
        "photo": ["PhotoRender", "block_axis", "photo_sample", "render_photo"],
        "photo_draw": ["GBuffer", "container_parts", "crane_parts", "mast_parts", "rasterise"],
        "photo_ground": ["GROUND_KINDS", "ground_albedo"],
        "photo_light": ["sky_visibility", "sun_visibility"],
        "photo_look": ["MATERIALS", "PhotoLook", "fbm", "hash01", "material_of", "random_look"],
        "photo_scene": ["photo_scene_image"],
        "photo_sensor": ["PhotoSensor", "apply_photo_sensor", "random_photo_sensor"],
        "photo_surface": ["part_surfaces"],
        "relief": ["ReliefRender", "relief_sample", "render_relief"],
        "relief_draw": [
            "KINDS",
            "ReliefMaps",
            "burn",
            "crane_parts",
            "light",
            "noise_field",
            "view",
        ],
        "relief_look": [
            "BANDS",
            "CONTAINER_PAINTS",
            "ReliefLook",
            "material_spectrum",
            "part_spectrum",
            "random_look",
        ],
        "relief_scene": ["relief_scene_image"],
        "relief_sensor": ["ReliefSensor", "apply_relief_sensor", "random_relief_sensor"],
        "registry": [
            "FAMILIES",
            "HELD_OUT",
            "check_family",
            "family_sampler",
            "family_scene_image",
            "pick_family",
            "refuse_weather",
            "scene_result",
            "scene_view",
        ],
    },
)
