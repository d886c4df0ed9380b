"""The city on the screen: its name and its districts, from the map GeoJSON when there is one.

The bundled map (``static/map/city.json``, the district outlines of Beijing that the npm package
``echarts@4.9.0`` ships) serves region ``110000``; ``dashboard.map`` names another GeoJSON for
another city. Without a usable map the districts come from the division-code registry
(:class:`warning.core.registry.Registry`), and the page draws no map.

>>> c = city_of("110000", "")
>>> c.code, c.name, len(c.districts), "朝阳区" in c.districts, c.map_path is not None
('110000', '北京市', 16, True, True)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
BUNDLED_MAP = STATIC_DIR / "map" / "city.json"
BUNDLED_REGION = "110000"


@dataclass(frozen=True)
class City:
    code: str
    name: str
    districts: tuple[str, ...]  # in map (or registry) order
    map_path: Path | None  # the GeoJSON served at /static/map/city.json (None: no map)


def map_districts(path: Path) -> list[str]:
    """``properties.name`` of each feature of a GeoJSON FeatureCollection (ValueError if none)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    feats = data.get("features") if isinstance(data, dict) else None
    names = [f.get("properties", {}).get("name") for f in feats or [] if isinstance(f, dict)]
    names = [n for n in names if isinstance(n, str) and n]
    if not names:
        raise ValueError(f"{path}: no features with properties.name")
    return list(dict.fromkeys(names))


def city_of(region_code: str, map_file: str = "") -> City:
    """The city of ``region.code`` with the map ``dashboard.map`` (empty: the bundled one, if it is
    this region's)."""
    from warning.core.registry import Registry

    reg = Registry.load(region_code)
    path: Path | None
    if map_file:
        path = Path(map_file).expanduser()
        if not path.is_file():
            raise ValueError(f"dashboard.map: file not found: {path}")
    elif region_code == BUNDLED_REGION and BUNDLED_MAP.is_file():
        path = BUNDLED_MAP
    else:
        path = None
    names: list[str] = []
    if path is not None:
        try:
            names = map_districts(path)
        except (OSError, ValueError) as e:
            if map_file:
                raise ValueError(f"dashboard.map: {e}") from None
            log.warning("bundled map unusable (%s); districts from the registry", e)
            path = None
    if not names:
        names = [d.name for d in sorted(reg.districts.values(), key=lambda d: d.code)]
    return City(region_code, reg.region_name, tuple(names), path)
