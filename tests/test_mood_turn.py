"""A street's texts turning angry at flat volume alerts, whatever the words: the street tests see
only the per-text anger score (here given directly, perfectly separated), never a lexicon.

With ~140 texts a day and the angry share rising 15 % → 85 % over three days, the first yellow
comes 32 h after onset (measured): in the first 24 h the street has only ~16 angry texts more
than usual, about 2 decimal orders of likelihood ratio — below a yellow bar of 5 (−log10 p) that
keeps false alerts within budget. The turn's peak is 72 h after onset, so the lead is ~40 h.
"""

from __future__ import annotations

import random

import msgspec

from detect_helpers import DAY, HOUR, T0, background, engine, firing, run

STREET = "110105002"
ONSET = T0 + 7 * DAY + 9 * HOUR


def _with_anger(turn: bool, seed: int = 8) -> list:
    """Background texts are angry (anger 0.6–0.9) 15 % of the time, calm (0.1–0.45) otherwise; in
    a turn the street's angry share rises linearly from 15 % to 85 % over three days."""
    rnd = random.Random(seed)
    out = []
    for ev in background(10.0, seed=seed, per_hour=6.0):
        if ev.source != "hotline":
            out.append(ev)
            continue
        share = 0.15
        if turn and ev.key == STREET and ev.ts >= ONSET:
            share = min(0.85, 0.15 + 0.7 * (ev.ts - ONSET) / (3 * DAY))
        anger = rnd.uniform(0.6, 0.9) if rnd.random() < share else rnd.uniform(0.1, 0.45)
        out.append(msgspec.structs.replace(ev, anger=anger))
    return out


def test_an_angry_turn_at_flat_volume_alerts_well_before_its_peak() -> None:
    alerts = firing(run(_with_anger(True)), STREET, min_level="yellow")
    mood = [a for a in alerts if a["signal"] == "sentiment"]
    assert mood, [a["signal"] for a in alerts]
    first = min(a["starts_at"] for a in mood)
    from warning.core.timeutil import iso

    assert iso(ONSET) <= first <= iso(ONSET + 36 * HOUR), first
    assert not [a for a in alerts if a["signal"] in ("hotline_volume", "hotline_category")]  # volume is flat


def test_no_turn_no_mood_alert() -> None:
    alerts = firing(run(_with_anger(False)), min_level="yellow")
    assert not [a for a in alerts if a["signal"] == "sentiment"]
