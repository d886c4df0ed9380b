"""Sample raw records for tests (contract of DESIGN.md) and every violation we can think of."""

from __future__ import annotations

import orjson

T0 = "2025-03-01T09:30:00+08:00"
T0_MS = 1740792600000  # the same instant in epoch milliseconds


def hotline(i: int = 1, **kw) -> dict:
    rec = {"id": f"h{i}", "received_at": T0, "street_code": "110105001", "district": "朝阳区",
           "type": "投诉", "category": "供暖", "title": "暖气不热",
           "content": "我叫王小明，电话13812345678，家里暖气一直不热，老人孩子都冻病了。",
           "caller": {"name": "王小明", "phone": "13812345678"}}
    rec.update(kw)
    return rec


def petition(i: int = 1, **kw) -> dict:
    rec = {"id": f"p{i}", "received_at": T0, "street_code": "110108001", "form": "来访", "people_count": 6,
           "is_repeat": True, "category": "劳动和社会保障",
           "content": "工友们被拖欠工资半年，联系人李强，身份证110101199003071234。",
           "petitioner": {"name": "李强", "id_number": "110101199003071234", "phone": "13900001111"}}
    rec.update(kw)
    return rec


def public_safety(i: int = 1, **kw) -> dict:
    rec = {"id": f"s{i}", "occurred_at": T0, "district": "海淀区", "address": "海淀区中关村街道某小区3号楼",
           "event_type": "斗殴", "severity": 3, "people_count": 4, "description": "多人持械斗殴"}
    rec.update(kw)
    return rec


def enc(rec: dict) -> bytes:
    return orjson.dumps(rec)


def without(rec: dict, key: str) -> dict:
    return {k: v for k, v in rec.items() if k != key}


# (source, raw bytes, expected reason)
VIOLATIONS: list[tuple[str, bytes, str]] = [
    ("hotline", b"{not json", "invalid_json"),
    ("hotline", b"", "invalid_json"),
    ("hotline", b'{"id": "x", "content": "\xff\xfe bad utf8"}', "invalid_utf8"),
    ("petition", b"[1, 2, 3]", "not_object"),
    ("petition", b'"just a string"', "not_object"),
    ("hotline", enc(without(hotline(), "id")), "missing_field"),
    ("hotline", enc(without(hotline(), "content")), "missing_field"),
    ("petition", enc(without(petition(), "people_count")), "missing_field"),
    ("public_safety", enc(without(public_safety(), "occurred_at")), "missing_field"),
    ("public_safety", enc(without(public_safety(), "severity")), "missing_field"),
    ("hotline", enc(hotline(id=123)), "wrong_type"),
    ("petition", enc(petition(people_count="6")), "wrong_type"),
    ("petition", enc(petition(is_repeat="yes")), "wrong_type"),
    ("public_safety", enc(public_safety(severity="3")), "wrong_type"),
    ("public_safety", enc(public_safety(severity=True)), "wrong_type"),
    ("hotline", enc(hotline(caller="王小明")), "wrong_type"),
    ("hotline", enc(hotline(type="抱怨")), "invalid_value"),
    ("petition", enc(petition(form="传真")), "invalid_value"),
    ("petition", enc(petition(people_count=0)), "invalid_value"),
    ("public_safety", enc(public_safety(severity=5)), "invalid_value"),
    ("public_safety", enc(public_safety(people_count=-1)), "invalid_value"),
    ("hotline", enc(hotline(received_at="2025-03-01T09:30:00")), "invalid_value"),
    ("hotline", enc(hotline(received_at="yesterday")), "invalid_value"),
    ("hotline", enc(hotline(id="")), "invalid_value"),
    ("hotline", enc(hotline(street_code="999999999")), "unknown_street"),
    ("hotline", enc(hotline(street_code="310101002")), "unknown_street"),
    ("hotline", enc(hotline(received_at="1970-01-02T00:00:00+08:00")), "time_too_old"),
    ("hotline", enc(hotline(content="投诉" + "很" * 30000)), "text_too_long"),
]

# Checked against the record's Kafka timestamp T0_MS (time_too_old needs ingest.max_age_days set).
TIME_VIOLATIONS: list[tuple[str, bytes, str]] = [
    ("hotline", enc(hotline(received_at="2025-03-01T12:30:00+08:00")), "time_in_future"),
    ("public_safety", enc(public_safety(occurred_at="2099-01-01T00:00:00+08:00")), "time_in_future"),
]
MAX_AGE_VIOLATION = ("petition", enc(petition(received_at="2023-01-01T00:00:00+08:00")), "time_too_old")


def gov_texts(gov_dir) -> list[str]:
    """The non-empty texts of the shared government messages (../shared/data/gov): subjects, details
    and replies — real wording, with real third-party names, for masking checks."""
    import csv
    from pathlib import Path

    texts: list[str] = []
    for name, cols in (("messages_a.csv", ("留言主题", "留言详情")), ("messages_b.csv", ("留言主题", "留言详情", "答复意见"))):
        with open(Path(gov_dir) / name, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                texts.extend(row.get(c) or "" for c in cols)
    return [t for t in texts if t]
