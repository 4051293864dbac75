"""The run report: HTML, plots, quicklooks, and the shipments/totals files.

Public names are loaded on first use (``lazy_loader``), so importing the package is
cheap; each module's own ``__all__`` says what it offers."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["deck", "html", "plots", "quicklook", "shipments_io"],
    submod_attrs={
        "deck": ["TIER_COLOURS", "DeckFigure", "deck_figure", "deck_svg"],
        "html": ["REPORT_NAME", "month_range", "render_report", "write_report"],
        "plots": [
            "REGION_COLOURS",
            "SHIP_COLOURS",
            "per_ship_png",
            "quicklook_png",
            "timeline_png",
            "voyages_png",
        ],
        "quicklook": ["scene_quicklook"],
        "shipments_io": [
            "SHIPMENT_COLUMNS",
            "detections_dir",
            "merge_detections",
            "read_counts_dir",
            "run_counts",
            "run_inputs",
            "run_uncounted",
            "shipments_csv",
            "shipments_rows",
            "uncounted_scene",
            "write_outputs",
        ],
    },
)
