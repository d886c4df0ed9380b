"""The detectors the pipeline can run, in the order a street consults them.

``detect.detectors`` (default: all) selects them by name; a new detector is one module plus one
line here. Rules come first (their detections are handed to the lifecycle first), then the scan
detectors (each (key, window) pair is claimed by the first that claims it), then the others.
``multi_source`` is applied by the alert lifecycle to every detection.

>>> list(DETECTORS)
['risk_terms', 'group_petition', 'crowd', 'volume', 'category', 'buildup', 'sentiment', 'entity', 'multi_source']
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from warning.models.buildup import Buildup
from warning.models.category import Theme
from warning.models.entity import EntityRepeat
from warning.models.group_petition import GroupPetition
from warning.models.multi_source import MultiSource
from warning.models.public_safety import Crowd
from warning.models.risk_terms import RiskTerms
from warning.models.sentiment import Sentiment
from warning.models.volume import Volume

DETECTORS: dict[str, type] = {
    "risk_terms": RiskTerms,
    "group_petition": GroupPetition,
    "crowd": Crowd,
    "volume": Volume,
    "category": Theme,
    "buildup": Buildup,
    "sentiment": Sentiment,
    "entity": EntityRepeat,
    "multi_source": MultiSource,
}


def selected(det: Any) -> list[str]:
    """Names of the detectors ``detect.detectors`` selects, in registry order (all when unset)."""
    return [n for n in DETECTORS if det.detectors is None or n in det.detectors]


def check(det: Any) -> list[tuple[str, str]]:
    """Problems of the ``detect:`` settings that concern detectors, as (dotted key, message).

    >>> from warning.core.detect_config import DetectSettings
    >>> check(DetectSettings(detectors=["volume", "nope"], detector_params={"volume": {"x": 1}}))
    [('detect.detectors', "unknown detector 'nope' (known: risk_terms, group_petition, crowd, volume, category, buildup, sentiment, entity, multi_source)"), ('detect.detector_params.volume', 'this detector takes no parameters')]
    """
    out: list[tuple[str, str]] = []
    for n in det.detectors or ():
        if n not in DETECTORS:
            out.append(("detect.detectors", f"unknown detector {n!r} (known: {', '.join(DETECTORS)})"))
    for name, params in det.detector_params.items():
        cls = DETECTORS.get(name)
        model = getattr(cls, "Params", None)
        if cls is None:
            out.append((f"detect.detector_params.{name}", "no such detector"))
        elif model is None:
            out.append((f"detect.detector_params.{name}", "this detector takes no parameters"))
        else:
            try:
                model.model_validate(params)
            except ValidationError as e:
                for err in e.errors():
                    where = ".".join(str(x) for x in err["loc"])
                    msg = "unknown key (typo?)" if err["type"] == "extra_forbidden" else err["msg"]
                    out.append((f"detect.detector_params.{name}.{where}", msg))
    return out
