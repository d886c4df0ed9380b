"""Labelled simulator of the four feeds (``warning simulate``).

Synthetic but realistic 12345 hotline (接诉即办), petition (信访), 110/public-safety (治安) and
grid-member (网格员上报) records over every street of the configured region, following DESIGN.md's
input contract, with injected incidents written as labels for backtests.

Modules:

- :mod:`~warning.sim.profiles` — volumes (``--scale 1``: 66,000 hotline, 3,000 petitions,
  15,000 public-safety events, 8,000 grid reports a day on average), hour-of-day, weekday, month, holiday, Spring
  Festival and heating-season profiles; category/type/form/event-type mixes; heavy-tailed street
  weights (stable per street code, independent of the seed).
- :mod:`~warning.sim.texts` — Chinese texts from templates × slots × phrasing, with personal data
  (names, mobiles, ID numbers with a valid check digit, room numbers), benign risk-like words,
  angry wording outside the risk lexicon (``ANGRY_UNLEXICAL``) and weather calls.
- :mod:`~warning.sim.incidents` — the six incident kinds and their labels (grid members report in
  four of them); category surges are fast or slow (``detail.shape``), sentiment turns ramp over
  ~3 days in words outside the lexicon.
- Traps without a label: a city-wide weather day per 30 days (暴雪/暴雨/大风; runs of ≥ 7 days,
  listed in ``summary.json`` as ``weather_days``), the heating-season rise of 供暖 calls from early
  November, a normal 10–20 % share of angry callers on every street.
- :mod:`~warning.sim.generator` — day-by-day vectorised generation (numpy PCG64) + text
  composition, deterministic by seed; events sorted by event time. Ids and time fields come from
  the feed descriptors (``warning/data/feeds.yaml``); a feed added later has random streams of its
  own, so it never changes the others' output.
- :mod:`~warning.sim.sinks` — ``DIR/events.jsonl`` + ``labels.jsonl`` + ``summary.json`` and/or
  the raw Kafka topics, optionally paced at K× real time.

Programmatic use::

    from warning.sim.generator import SimParams, Simulator
    from warning.sim.sinks import DirSink, run
    sim = Simulator(SimParams(start=1730390400, days=30, seed=7, scale=1.0))
    summary = run(sim, dir_sink=DirSink("out/nov"))
"""
