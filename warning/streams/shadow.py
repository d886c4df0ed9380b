"""Shadow paging: one partition's checkpoint is atomic however many record batches it takes.

A Kafka record batch is appended whole or not at all, but a partition's checkpoint (detection at
scale 1: about 90 streets of ~35 kB each) is often larger than one batch may be (1 MiB on a
topic created with defaults), and Tansu needs one record per batch. A worker killed between two
batches would leave a *torn* checkpoint: streets newer than the meta row that says which events
they hold, whose events the next owner would then count twice.

So each row has two physical slots, and every slot value carries the sequence number of the
checkpoint that wrote it. A checkpoint with sequence ``n``

1. tombstones what is no longer needed: versions superseded by checkpoint ``n − 1`` (or earlier),
   deletion markers committed before, and what an earlier torn checkpoint left;
2. writes each changed row into the slot that does **not** hold its committed version (a deleted
   row gets a *deletion marker* there);
3. then — only once all of that is delivered — writes the partition's **commit row**, ``n``.

A reader takes, for each row, the slot with the highest sequence not above the commit row. A
checkpoint cut anywhere before its commit row is invisible (its rows are in the other slots, with
a higher sequence, and what it tombstoned was superseded by the commit before); its leftovers are
tombstoned by the next checkpoint before that one commits. This needs every record of checkpoint
``n − 1`` delivered before the first of ``n`` is sent (:meth:`StateTable.send_pending
<warning.streams.state.StateTable.send_pending>` waits for that), and no record of a former owner
arriving after the partition's next owner has read it (the fence: :mod:`warning.streams.app`).
**Not covered:** a worker evicted while stalled past the session timeout learns of it only when
it wakes, and what it hands the producer before then can land after the new owner has read the
changelog — its rows would be taken as committed (their sequence is the new owner's next), its
tombstones could delete the new owner's versions. Closing that needs producer fencing (Kafka
transactions; Tansu has none).

Physical keys: ``"{store}#{slot}|{partition}|{row}"``, the commit row ``"~commit|{partition}"``.
Rows written outside checkpoints (``"{store}|{partition}|{row}"``, unversioned: the ingest dedup
marks, and detection state written before this layout) read as committed, sequence 0.

>>> pages = Pages.load(0, {})
>>> pre, commit = pages.plan([("street", "a", b"A1"), ("meta", "engine", b"M1")])
>>> data = dict(pre + [commit])
>>> Pages.load(0, data).rows("street")
{'a': 'street#0|0|a'}
>>> pre, commit = Pages.load(0, data).plan([("street", "a", b"A2"), ("meta", "engine", b"M2")])
>>> torn = {**data, **dict(pre[:1])}                # killed after one row of checkpoint 2
>>> t = Pages.load(0, torn); t.committed, value(torn[t.rows("street")["a"]])
(1, b'A1')
>>> t.garbage                                      # the next checkpoint tombstones it first
['street#1|0|a']
>>> t.plan([("meta", "engine", b"M2")])[0][0]     # (and the rows the new commit supersedes)
('street#1|0|a', None)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

#: every slot value starts with: live (False: a deletion marker), the checkpoint sequence
HEADER = struct.Struct(">?q")
COMMIT = "~commit"

Record = tuple[str, Optional[bytes]]  # key, value (None: a Kafka tombstone)


def slot_key(store: str, slot: int, partition: int, row: str) -> str:
    return f"{store}#{slot}|{partition}|{row}"


def commit_key(partition: int) -> str:
    return f"{COMMIT}|{partition}"


def value(blob: bytes) -> bytes:
    """The row's bytes in a slot value (without the header)."""
    return blob[HEADER.size:]


def parse(key: str) -> Optional[tuple[str, Optional[int], int, str]]:
    """``(store, slot or None if unversioned, partition, row)`` of a row key; None: not a row
    (the commit row, or not a key of this layout)."""
    parts = key.split("|", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    head, p, row = parts
    store, sep, slot = head.partition("#")
    if not sep:
        return store, None, int(p), row
    if slot not in ("0", "1"):
        return None
    return store, int(slot), int(p), row


@dataclass
class Version:
    key: str  # physical key
    slot: int  # -1: an unversioned row
    seq: int
    deleted: bool


@dataclass
class Pages:
    """The committed versions of one partition's rows, and what the next checkpoint must clean.

    Load one with :meth:`load` from the table's data after each (re)assignment; :meth:`plan` then
    turns each checkpoint's writes into records and keeps it current. Between two checkpoints a
    row has at most two versions: the committed one and the one it superseded.
    """

    partition: int
    committed: int = 0
    live: dict[tuple[str, str], Version] = field(default_factory=dict)
    #: physical keys a torn checkpoint left (sequence above the commit row): tombstoned first
    garbage: list[str] = field(default_factory=list)
    #: physical keys superseded by the committed versions (the other slot, an unversioned row)
    stale: list[str] = field(default_factory=list)
    #: rows whose committed version is a deletion marker: tombstoned by the next plan
    gc: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def load(cls, partition: int, data: Mapping[str, Optional[bytes]]) -> "Pages":
        """The pages of ``partition`` in ``data`` (physical key → value)."""
        return cls.load_all(data).get(partition) or cls(partition)

    @classmethod
    def load_all(cls, data: Mapping[str, Optional[bytes]]) -> dict[int, "Pages"]:
        """The pages of every partition that has rows in ``data``, in one pass."""
        commits: dict[int, int] = {}
        slotted: dict[int, dict[tuple[str, str], list[Version]]] = {}
        plain: dict[int, dict[tuple[str, str], str]] = {}
        for key, blob in list(data.items()):
            if blob is None or not isinstance(key, str):
                continue
            parsed = parse(key)
            if parsed is None:
                head, _, p = key.partition("|")
                if head == COMMIT and p.isdigit():
                    commits[int(p)] = HEADER.unpack_from(blob)[1]
                continue
            store, slot, p, row = parsed
            if slot is None:
                plain.setdefault(p, {})[(store, row)] = key
            else:
                live, seq = HEADER.unpack_from(blob)
                slotted.setdefault(p, {}).setdefault((store, row), []).append(Version(key, slot, seq, not live))
        out: dict[int, Pages] = {}
        for p in set(commits) | set(slotted) | set(plain):
            pages = out[p] = cls(p, committed=commits.get(p, 0))
            unversioned = plain.get(p, {})
            for lk, versions in slotted.get(p, {}).items():
                pages.garbage += [v.key for v in versions if v.seq > pages.committed]
                versions = sorted((v for v in versions if v.seq <= pages.committed), key=lambda x: x.seq)
                if not versions:
                    continue
                v = pages.live[lk] = versions[-1]
                pages.stale += [x.key for x in versions[:-1]]
                if v.deleted:
                    pages.gc.add(lk)
                if lk in unversioned:  # superseded by a versioned row, its cleanup not in yet
                    pages.stale.append(unversioned.pop(lk))
            for lk, key in unversioned.items():
                pages.live[lk] = Version(key, -1, 0, False)
            pages.garbage.sort()
            pages.stale.sort()
        return out

    def rows(self, store: str) -> dict[str, str]:
        """Row name → physical key of each live row of ``store``."""
        return {row: v.key for (s, row), v in self.live.items() if s == store and not v.deleted}

    def plan(self, writes: Iterable[tuple[str, str, Optional[bytes]]]) -> tuple[list[Record], Record]:
        """One checkpoint: ``writes`` are ``(store, row, value or None to delete)``, the last write
        of a row wins. Returns the records to send: the rows (all delivered before) the commit
        row. The pages then describe the new checkpoint."""
        seq = self.committed + 1
        p = self.partition
        final: dict[tuple[str, str], Optional[bytes]] = {}
        for store, row, val in writes:
            final[(store, row)] = val
        drop = [*self.garbage, *self.stale]
        self.garbage, self.stale = [], []
        for lk in sorted(self.gc - final.keys()):  # deleted and committed: the marker goes now
            drop.append(self.live.pop(lk).key)
        self.gc &= final.keys()
        rows: list[Record] = []
        for lk, val in final.items():
            v = self.live.get(lk)
            if val is None and (v is None or v.deleted):
                continue
            slot = 0 if v is None or v.slot < 0 else 1 - v.slot
            key = slot_key(lk[0], slot, p, lk[1])
            rows.append((key, HEADER.pack(val is not None, seq) + (val or b"")))
            if v is not None:
                self.stale.append(v.key)  # superseded once this commit is in: dropped by the next
            self.live[lk] = Version(key, slot, seq, val is None)
            if val is None:
                self.gc.add(lk)
            else:
                self.gc.discard(lk)
        written = {k for k, _ in rows}
        self.committed = seq
        return [(k, None) for k in drop if k not in written] + rows, (commit_key(p), HEADER.pack(True, seq))
