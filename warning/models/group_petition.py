"""Group petitions (集体访): one record of many people, graded by how many.

A record of a feed with the ``group_petition`` detector (petitions) with ``people_count`` ≥
``detect.group_petition_people`` raises the level of the highest ``detect.group_petition_levels``
threshold it reaches — at arrival (the record alone decides) and again at release (absorbed in
the same episode).

>>> from warning.core.detect_config import DetectSettings
>>> from warning.core.events import example_event
>>> from warning.core.feeds import default_feeds
>>> from warning.core.keys import KeyTable
>>> d = GroupPetition(DetectSettings(), KeyTable(default_feeds()))
>>> ev = example_event(source="petition", category="住房", kind="来访", people_count=23)
>>> [(x.signal, x.level, x.observed) for x in d.on_arrival(ev)]
[('group_petition', 'orange', 23.0)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warning.core.decide import Detection
from warning.core.detect_config import level_for
from warning.core.events import Event
from warning.core.timeutil import HOUR
from warning.core.window import window_start
from warning.models.detector import Detector

if TYPE_CHECKING:
    from warning.core.street import StreetState


class GroupPetition(Detector):
    name = "group_petition"
    signals = ("group_petition",)

    def _detection(self, ev: Event, w0: float, samples: list[str], instant: bool) -> list[Detection]:
        feed = self.keys.feeds.get(ev.source)
        det = self.det
        if feed is None or not feed.has("group_petition") or ev.people_count < det.group_petition_people:
            return []
        level = level_for(det.group_petition_levels, ev.people_count)
        if level is None:
            return []
        evidence = {"people": ev.people_count, "form": ev.kind, "category": ev.category, "repeat": ev.is_repeat,
                    "detail_zh": f"{ev.kind}集体访 {ev.people_count} 人（{ev.category}）"}
        if instant:
            evidence["instant"] = True
        return [Detection(signal="group_petition", level=level, t=ev.ts, window_start=w0, window_end=w0 + HOUR,
                          observed=float(ev.people_count), expected=0.0, score=self.score("group_petition", level),
                          samples=samples, group=feed.group, evidence=evidence)]

    def _may_apply(self, ev: Event) -> bool:
        """Cheap precheck: could :meth:`_detection` find anything (enough people at all)?"""
        return ev.people_count >= self.det.group_petition_people

    def on_arrival(self, ev: Event) -> list[Detection]:
        if not self._may_apply(ev):
            return []
        return self._detection(ev, window_start(ev.ts, int(HOUR)), [ev.text[:200]] if ev.text else [], instant=True)

    def on_event(self, ev: Event, street: "StreetState") -> list[Detection]:
        w = street.hour
        assert w is not None
        if not self._may_apply(ev):
            return []
        return self._detection(ev, w.start, w.texts(), instant=False)
