"""Regenerate imagery/aoi/{rajin,vostochny,dunai}.geojson.

Usage: python scripts/make_aois.py

Each port is laid out in local metres (x east, y north) around an origin at the approximate
coordinates of DOMAIN.md, converted through the port's UTM zone to RFC 7946 lon/lat. The
layouts are schematic (piers, berths, quays, yards and rail at plausible sizes); verify them
on real imagery before relying on region assignment there. Feature properties: ``port``,
``name``, ``kind`` (port | pier | quay | berth | yard | rail).
"""

from __future__ import annotations

import json
from pathlib import Path

from pyproj import Transformer

OUT = Path(__file__).resolve().parents[1] / "imagery" / "aoi"


def rect(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


PORTS = {
    "rajin": {
        "origin": (130.2833, 42.2500),
        "epsg": 32652,
        "features": [
            ("Rajin port", "port", rect(-1000, -600, 1000, 400)),
            ("Pier 1", "pier", rect(-700, -450, -580, 0)),
            ("Pier 2", "pier", rect(-60, -450, 60, 0)),
            ("Pier 3", "pier", rect(520, -450, 640, 0)),
            ("Pier 1 east berth", "berth", rect(-580, -440, -540, -10)),
            ("Pier 2 west berth", "berth", rect(-100, -440, -60, -10)),
            ("Pier 2 east berth", "berth", rect(60, -440, 100, -10)),
            ("Pier 3 west berth", "berth", rect(480, -440, 520, -10)),
            ("Main quay", "quay", rect(-900, 0, 900, 60)),
            ("Rajin yard", "yard", rect(-400, 60, 400, 260)),
            ("Pier 2 rail", "rail", rect(-52, -430, -40, 300)),
        ],
    },
    "vostochny": {
        "origin": (133.0667, 42.7333),
        "epsg": 32653,
        "features": [
            ("Vostochny port", "port", rect(-900, -400, 900, 500)),
            ("Berth 1", "berth", rect(-600, -45, -300, 0)),
            ("Berth 2", "berth", rect(-300, -45, 0, 0)),
            ("Berth 3", "berth", rect(0, -45, 300, 0)),
            ("Container quay", "quay", rect(-700, 0, 700, 45)),
            ("Container yard", "yard", rect(-700, 45, 700, 300)),
            ("Rail yard", "rail", rect(-700, 300, 700, 340)),
        ],
    },
    "dunai": {
        "origin": (132.3333, 42.8833),
        "epsg": 32653,
        "features": [
            ("Dunai port", "port", rect(-700, -500, 700, 400)),
            ("Dunai pier", "pier", rect(-40, -320, 40, 0)),
            ("Dunai pier west berth", "berth", rect(-80, -310, -40, -10)),
            ("Dunai pier east berth", "berth", rect(40, -310, 80, -10)),
            ("Dunai quay", "quay", rect(-500, 0, 500, 50)),
            ("Dunai yard", "yard", rect(-300, 50, 300, 180)),
            ("Dunai rail", "rail", rect(-500, 180, 500, 195)),
        ],
    },
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for port, spec in PORTS.items():
        to_utm = Transformer.from_crs(4326, spec["epsg"], always_xy=True)
        to_ll = Transformer.from_crs(spec["epsg"], 4326, always_xy=True)
        ox, oy = to_utm.transform(*spec["origin"])
        feats = []
        for name, kind, ring in spec["features"]:
            coords = [
                list(map(lambda v: round(v, 7), to_ll.transform(ox + x, oy + y))) for x, y in ring
            ]
            feats.append(
                {
                    "type": "Feature",
                    "properties": {"port": port, "name": name, "kind": kind},
                    "geometry": {"type": "Polygon", "coordinates": [coords]},
                }
            )
        fc = {
            "type": "FeatureCollection",
            "properties": {"port": port, "utm_epsg": spec["epsg"]},
            "features": feats,
        }
        (OUT / f"{port}.geojson").write_text(json.dumps(fc, indent=1) + "\n")
        print(f"wrote {OUT / (port + '.geojson')} ({len(feats)} features)")


if __name__ == "__main__":
    main()
