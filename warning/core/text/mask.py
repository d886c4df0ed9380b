"""Personal-data masking for Chinese citizen texts.

:func:`mask_pii` replaces personal data with ``*`` while keeping the text readable: the kind of
item and a few non-identifying characters stay visible ("我叫张**，电话138****5678").
Kinds, in the order they are applied:

============  ==========================================================  ======================
kind          what is detected                                            masked as
============  ==========================================================  ======================
email         ``local@domain.tld``                                        ``z***@qq.com``
id_number     18-digit resident ID with valid date and ISO 7064 checksum   ``110*************3X``
              (a valid date with a wrong checksum still counts); 15-digit
              (old) ID with valid date; any 8+ digit number after an ID
              cue (身份证/证件号 …); an ID already partly masked at source
bank_card     16–19 digits passing the Luhn check, or after a card cue    ``6222********1234``
              (卡号/银行卡/账号 …)
mobile        ``1[3-9]x`` + 8 digits, optional +86/0086, spaces or dashes ``138****5678``
landline      area code ``0[1-9]x(x)`` + 7–8 digits (dash, space,         ``0731-****8888``
              brackets), or 7–8 digits right after a phone cue
house_number  exact flat: ``3号楼2单元501室``, ``9栋704``, ``3-2-501``,     ``3号楼*单元***室``
              ``501室`` (building kept, unit/room masked)
plate         licence plates ``京A12345``, ``京A·D12345``, ``粤B12345学``  ``京A*****``
im_account    QQ number after QQ/扣扣/q号/企鹅号, WeChat id after 微信/VX    ``QQ：12****78``
name          surname + given name after a cue word (姓名/我叫/联系人/      ``张**``
              户主/投诉人/本人 …) or a grid-report role (网格员/上报人/
              重点人员 …), further names listed after it (、和与及),
              or a name right before 电话/手机/身份证 or （网格员）;
              third parties (``person.py``): before a title (何**医生),
              before the sex (乐**，男), after a form label (请求人：肖**)
              or an organisation (…中学陈*，), redacted at the source
              (罗x雄, 黄某纯), after a role word (干部李**侵占),
              listed beside masked names (张**、高*、彭*),
              and names jieba's ``nr`` model tags
============  ==========================================================  ======================

Before matching, invisible characters (zero-width spaces, joiners, BOM, direction marks) are
removed and full-width or other-script digits and letters written in ASCII
(:mod:`warning.core.text.normalize`); the result is that normalised text, masked. Phones
written in Chinese numerals (一三八…, 幺三九…) are masked keeping the writer's characters
(``一三八****五六七八``).

Names with a cue are found heuristically (see ``_names.py``): ~400 surnames, strong cues (我叫, 姓名 …),
weak ones (本人, 业主, 村民 …) after which the name must be closed by punctuation or a
contact word, role labels of grid-member reports (网格员, 上报人, 调解员 …: "（网格员：关*）",
"网格员石*（138****5678）", while "网格员上报", "重点人员动态" stay), and a list of ~23,000
ordinary words that start like a name (利益, 安全, 满意 …, derived from jieba's dictionary) so
"业主利益，" stays readable. Names without a cue are found by :mod:`warning.core.text.person`
(context rules and jieba's person-name model). On the 17,100 real government texts in
``../shared/data/gov`` about 4,700 name mentions are masked (``bench/mask_gov.py``).

After the number rules, a safety net re-scans for the audit patterns of
:func:`find_pii_leaks` (any mobile, valid ID, area-code landline) and masks what is left, so
no phone or ID pattern survives by construction; when it masks something, the numbers are masked
again until nothing changes (its mask may leave a new token or join digits into a new pattern).

Digits may be ASCII or full-width (４３０３…). Cheap pre-checks (is there any digit, an ``@``,
a cue word?) skip the expensive patterns on texts that cannot contain a kind, so masking costs
a few microseconds on typical short texts.

Masking is idempotent (property-tested): ``mask_pii(mask_pii(t)[0])`` returns the same text and
zero counts — digits next to a ``*`` never start a new number.

Examples
--------

>>> from warning.core.text import mask_pii
>>> masked, counts = mask_pii("我叫张小明，电话13812345678，身份证110101199003074514。")
>>> masked
'我叫张**，电话138****5678，身份证110*************14。'
>>> {k: v for k, v in counts.items() if v}
{'name': 1, 'mobile': 1, 'id_number': 1}

>>> mask_pii("住朝阳区3号楼2单元501室，车牌京A·D12345，邮箱zhang.san@163.com")[0]
'住朝阳区3号楼*单元***室，车牌京A·******，邮箱z***@163.com'

>>> mask_pii("座机010-62345678，银行卡6222 0212 3456 7894")[0]
'座机010-****5678，银行卡6222********7894'

Numbers that are not personal data stay: dates, amounts, hotline 12345.

>>> mask_pii("2019年4月25日拨打12345，欠薪20000元")[0]
'2019年4月25日拨打12345，欠薪20000元'

"""

from __future__ import annotations

import bisect
import re
from typing import Callable

from warning.core.text import _names, person
from warning.core.text.normalize import normalize

__all__ = ["PII_KINDS", "mask_pii", "find_pii_leaks", "id_checksum_ok", "luhn_ok"]

PII_KINDS: tuple[str, ...] = (
    "name", "mobile", "landline", "id_number", "email", "bank_card", "plate", "house_number", "im_account",
)

_D = r"[0-9０-９]"  # ASCII or full-width digit

_ANY_DIGIT = re.compile(_D)
_FULLWIDTH = str.maketrans("０１２３４５６７８９ＸＸｘ", "0123456789XXx")
_FULLWIDTH_HINT = re.compile("[" + "".join(map(chr, _FULLWIDTH)) + "]")


def _plain(text: str) -> str:
    """``text.translate(_FULLWIDTH)`` (a table look-up per character: skipped when nothing maps)."""
    return text.translate(_FULLWIDTH) if _FULLWIDTH_HINT.search(text) is not None else text

# ---------------------------------------------------------------------------------------------
# validators


def id_checksum_ok(digits: str) -> bool:
    """ISO 7064 MOD 11-2 checksum of an 18-character resident ID (GB 11643-1999).

    >>> id_checksum_ok("11010119900307451X"), id_checksum_ok("110101199003074514"), id_checksum_ok("11010519491231002X")
    (False, True, True)
    """
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(digits[:17], weights))
    return "10X98765432"[total % 11] == digits[17].upper()


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check used by bank card numbers.

    >>> luhn_ok("6222021234567894"), luhn_ok("6222021234567890")
    (True, False)
    """
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _date_ok(yyyy: int, mm: int, dd: int) -> bool:
    if not (1 <= mm <= 12 and 1 <= dd <= 31):
        return False
    if mm == 2:
        leap = yyyy % 4 == 0 and (yyyy % 100 != 0 or yyyy % 400 == 0)
        return dd <= (29 if leap else 28)
    return dd <= 30 or mm in (1, 3, 5, 7, 8, 10, 12)


def _is_id18(d: str) -> bool:
    return (
        len(d) == 18
        and d[0] != "0"
        and d[6:8] in ("18", "19", "20")
        and _date_ok(int(d[6:10]), int(d[10:12]), int(d[12:14]))
        and id_checksum_ok(d)
    )


def _id_like(d: str) -> bool:
    """18 characters shaped like an ID (region, birth date), checksum not verified."""
    return (
        len(d) == 18
        and d[:17].isdigit()
        and d[0] != "0"
        and d[6:8] in ("19", "20")
        and _date_ok(int(d[6:10]), int(d[10:12]), int(d[12:14]))
    )


def _is_id15(d: str) -> bool:
    return len(d) == 15 and d.isdigit() and d[0] != "0" and _date_ok(1900 + int(d[6:8]), int(d[8:10]), int(d[10:12]))


# ---------------------------------------------------------------------------------------------
# numbers: IDs, bank cards, mobiles, landlines

# A "number token": digits with single spaces/dashes between groups, an optional +86/0086 prefix,
# an optional (010) area code, an optional trailing X (ID check character).
# (never next to a "*": the visible digits of an earlier mask are not part of a new number, so
# masking twice gives the same text)
_NUM_TOKEN = re.compile(
    r"(?<![0-9０-９*])(?<!\*[-－—\s])[+＋(（0-9０-９](?:[0-9０-９]|[-－—\s()（）](?=[0-9０-９(（])){5,}[XxＸｘ]?"
    r"(?![0-9０-９*]|[-－—\s]\*)"
)
# The same pattern with its first character ahead of the look-behinds, which then also cover that
# character (it is in the class, so they test the same characters before it): a pattern that
# starts with a character class is only tried where such a character stands, one that starts
# with a look-behind at every position. (The leak patterns below are written the same way.)
_NUM_FIRST = r"[+＋(（0-9０-９]"
_NUM_TOKEN_FAST = re.compile(
    _NUM_FIRST + r"(?<![0-9０-９*]" + _NUM_FIRST + r")(?<!\*[-－—\s]" + _NUM_FIRST + r")"
    r"(?:[0-9０-９]|[-－—\s()（）](?=[0-9０-９(（])){5,}[XxＸｘ]?(?![0-9０-９*]|[-－—\s]\*)"
)
# an ID already partly masked at the source: 身份证４３０３２２１９５６０******
_PARTIAL_ID = re.compile(r"(?:身份证|身份号|证件号|公民身份)[号码：:\s]{0,4}(?<![0-9０-９])([0-9０-９]{6,17})(?=[*＊])")

_CUE_WINDOW = 12
_ID_CUES = re.compile(r"身份证|身份号|证件号|公民身份")
_CARD_CUES = re.compile(r"卡号|银行卡|信用卡|储蓄卡|借记卡|账号|帐号|账户|帐户|存折|收款账")
_PHONE_CUES = re.compile(r"电话|手机|联系方式|号码|座机|致电|拨打|热线|电联|微信|TEL|Tel|tel|call|传真")


_SKIP_FOR_CUES = frozenset("0123456789０１２３４５６７８９*＊-－—()（）+＋XxＸｘ")


class _Cues:
    """Cue words before a position: the last 12 characters that are not digits, separators,
    masks or spaces — so a cue is found at the same distance whether the numbers around it are
    masked or not (masking twice gives the same text)."""

    __slots__ = ("text", "_pos")

    def __init__(self, text: str) -> None:
        self.text = text
        self._pos: list[int] | None = None

    def before(self, start: int, pattern: re.Pattern[str]) -> bool:
        if self._pos is None:
            self._pos = [i for i, c in enumerate(self.text) if c not in _SKIP_FOR_CUES and not c.isspace()]
        k = bisect.bisect_left(self._pos, start)
        window = "".join(self.text[i] for i in self._pos[max(0, k - _CUE_WINDOW) : k])
        return pattern.search(window) is not None


def _stars(n: int) -> str:
    return "*" * n


def _mask_keep(d: str, head: int, tail: int) -> str:
    if len(d) <= head + tail:
        return _stars(len(d))
    return d[:head] + _stars(len(d) - head - tail) + (d[-tail:] if tail else "")


def _classify_digits(d: str, cues: _Cues, start: int) -> tuple[str, str] | None:
    """(kind, masked) for a separator-free digit string ``d`` (ASCII, maybe trailing X)."""
    n = len(d)
    if not d.strip("0") or (d[0] == "0" and not d[4:].strip("0")):
        return None  # placeholders such as 0000-00000000, 0731-0000-00000000
    if d[-1] in "Xx":
        # only an 18-character ID ends in X (a typo in the checksum still reads as an ID)
        if n == 18 and (_is_id18(d) or _id_like(d) or cues.before(start, _ID_CUES)):
            return "id_number", _mask_keep(d, 3, 2)
        return None
    if n == 18 and (_is_id18(d) or (_id_like(d) and not luhn_ok(d))):
        return "id_number", _mask_keep(d, 3, 2)
    if 16 <= n <= 19 and luhn_ok(d):
        if n == 18 and cues.before(start, _ID_CUES):
            return "id_number", _mask_keep(d, 3, 2)
        return "bank_card", _mask_keep(d, 4, 4)
    if n == 15 and _is_id15(d):
        return "id_number", _mask_keep(d, 3, 2)
    # mobiles, with an optional country prefix
    m = d
    if n == 13 and d.startswith("86"):
        m = d[2:]
    elif n == 15 and d.startswith("0086"):
        m = d[4:]
    if len(m) == 11 and m[0] == "1" and m[1] in "3456789":
        return "mobile", m[:3] + "****" + m[7:]
    # landlines with area code: 010/02x + 8, 0xxx + 7/8
    if d[0] == "0" and d[1:2] != "0" and 10 <= n <= 12:
        area = 3 if d[1] in "12" else 4
        local = d[area:]
        if 7 <= len(local) <= 8 and local[0] != "0":
            return "landline", d[:area] + "-" + _stars(len(local) - 4) + local[-4:]
    # cue-driven fall-backs
    if n >= 8 and cues.before(start, _ID_CUES):
        return "id_number", _mask_keep(d, 3, 2)
    if n >= 12 and cues.before(start, _CARD_CUES):
        return "bank_card", _mask_keep(d, 4, 4)
    if 7 <= n <= 8 and d[0] != "0" and cues.before(start, _PHONE_CUES):
        return "landline", _stars(n - 4) + d[-4:]
    if 9 <= n <= 12 and cues.before(start, _PHONE_CUES):
        return "mobile" if d[0] == "1" else "landline", _mask_keep(d, 3, 4)
    return None


_GROUP = re.compile(r"[0-9]+[Xx]?")
_MAX_GROUPS = 6  # "+86 138 1234 5678", "6222 0212 3456 7894 123": a number has at most 5 groups
_DATE_PREFIX = re.compile(r"(?:19|20)[0-9]{2}[-－—.][0-9]{1,2}[-－—.][0-9]{1,2}(?![0-9])")


def _classify(d: str, cues: _Cues, start: int) -> tuple[str, str] | None:
    """:func:`_classify_digits`, reading a trailing X as a letter unless the number is an ID."""
    if len(d) < 7:
        return None
    res = _classify_digits(d, cues, start)
    if res is None and d[-1] in "Xx":
        res = _classify_digits(d[:-1], cues, start) if len(d) > 7 else None
        if res is not None:
            res = (res[0], res[1] + d[-1])
    return res


def _mask_partial_id(m: re.Match[str], counts: dict[str, int]) -> str:
    counts["id_number"] += 1
    d = m.group(1).translate(_FULLWIDTH)
    return m.group()[: m.start(1) - m.start()] + _mask_keep(d, 3, 2)


def _mask_numbers(text: str, counts: dict[str, int]) -> str:
    """The number rules, then the safety net — again on the result for as long as the safety net
    masks something.

    The safety net masks a leak inside a longer run of digits joined by spaces or dashes, which the
    token rules could not split: what is left on each side is then a token of its own for the next
    pass ("1-00000000101000-130****0000": 100000000101000 reads as an old ID), and the visible digits
    of its mask may join those beside it into a new leak ("13000001-130****0000": 13000001-130).
    So the text is masked again until a pass leaves it as it is: a fixed point, which is what a
    second :func:`mask_pii` sees. Every repeat stars at least one digit, so this ends (in practice
    after one repeat, and only for such odd joins).
    """
    while True:
        text = _mask_number_tokens(text, counts)
        masked = _safety_net(text, counts)
        if masked is text:
            return text
        text = masked


def _mask_number_tokens(text: str, counts: dict[str, int]) -> str:
    if "*" in text or "＊" in text:
        text = _PARTIAL_ID.sub(lambda m: _mask_partial_id(m, counts), text)
    out: list[str] = []
    last = 0
    cues = _Cues(text)

    def emit(a: int, b: int, res: tuple[str, str]) -> None:
        nonlocal last
        counts[res[0]] += 1
        out.append(text[last:a])
        out.append(res[1])
        last = b

    def as_whole(plain: str, groups: list[tuple[int, int, str]], start: int) -> tuple[str, str] | None:
        # a run is tried whole, unless it starts with a dash-separated date
        if groups[-1][1] - groups[0][0] > 40:
            return None  # no number of ours is that long
        if len(groups) > 1 and _DATE_PREFIX.match(plain, groups[0][0]) is not None:
            return None
        return _classify("".join(g[2] for g in groups), cues, start + groups[0][0])

    def process(plain: str, groups: list[tuple[int, int, str]], start: int, span: tuple[int, int] | None = None) -> None:
        # Several numbers may be joined by spaces/dashes ("13812345678 13987654321", "0731
        # 88888888 13812345678"). A token is tried whole; else the leftmost, longest run of
        # groups of >= 3 digits that is a number is masked and what is left on each side is
        # handled as a token of its own — exactly what a second pass sees, so masking twice
        # gives the same text.
        while groups:
            res = as_whole(plain, groups, start)
            if res is not None:
                a, b = span or (start + groups[0][0], start + groups[-1][1])
                emit(a, b, res)
                return
            span = None
            n = len(groups)
            rest: list[tuple[int, int, str]] = []
            for i in range(n):
                for j in range(min(n, i + _MAX_GROUPS), i, -1):
                    if (i == 0 and j == n) or j - i > 1 and any(len(g[2]) < 3 for g in groups[i:j]):
                        continue
                    if any(g[2][-1] in "Xx" for g in groups[i : j - 1]):
                        continue
                    run = groups[i:j]
                    res = _classify("".join(g[2] for g in run), cues, start + run[0][0])
                    if res is None:
                        continue
                    if i:
                        process(plain, groups[:i], start)  # finds no run, only tries it whole
                    emit(start + run[0][0], start + run[-1][1], res)
                    rest = groups[j:]
                    break
                else:
                    continue
                break
            groups = rest

    for m in _NUM_TOKEN_FAST.finditer(text):  # _NUM_TOKEN
        plain = _plain(m.group())
        groups = [(g.start(), g.end(), g.group()) for g in _GROUP.finditer(plain)]
        if groups:
            # an opening bracket whose closing one is not in the token stays: "石磊（138****5678）"
            a = m.start() + (plain[0] in "(（" and ")" not in plain and "）" not in plain)
            if len(groups) == 1:
                # what process does with one group: try it whole (there is no shorter run)
                g0 = groups[0]
                res = _classify(g0[2], cues, m.start() + g0[0]) if g0[1] - g0[0] <= 40 else None
                if res is not None:
                    emit(a, m.end(), res)
                continue
            process(plain, groups, m.start(), (a, m.end()))
    if out:
        out.append(text[last:])
        text = "".join(out)
    return text


def _safety_net(text: str, counts: dict[str, int]) -> str:
    """Mask whatever the audit patterns of :func:`find_pii_leaks` still find.

    The token rules above handle the ways people write numbers; this catches odd joins such as
    "1300000-03001000000" so that no mobile, ID or landline pattern can survive by construction.
    Returns ``text`` itself when it finds nothing.
    """
    plain = _plain(text)
    if _LEAK_HINT.search(plain) is None:  # what every leak pattern holds is not there
        return text
    spans: list[tuple[int, int, str, str]] = []
    for m in _LEAK_MOBILE.finditer(plain):
        d = re.sub(r"\D", "", m.group())
        spans.append((m.start(), m.end(), "mobile", d[:3] + "****" + d[-4:]))
    for m in _LEAK_ID.finditer(plain):
        if _is_id18(m.group()):
            spans.append((m.start(), m.end(), "id_number", _mask_keep(m.group(), 3, 2)))
    for m in _LEAK_LANDLINE.finditer(plain):
        d = re.sub(r"\D", "", m.group())
        spans.append((m.start(), m.end(), "landline", _stars(len(d) - 4) + d[-4:]))
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    last = 0
    for start, end, kind, masked in spans:
        if start < last:
            continue
        counts[kind] += 1
        out.append(text[last:start])
        out.append(masked)
        last = end
    out.append(text[last:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# numbers in Chinese numerals (一三八一二三四五六七八, 幺三九…), QQ and WeChat accounts

_CN_DIGITS = {"零": "0", "〇": "0", "○": "0", "洞": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "两": "2",
              "贰": "2", "三": "3", "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6",
              "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9"}
_CN_D = "[" + "".join(_CN_DIGITS) + "0-9]"
# 7+ digits with at least one Chinese numeral, single spaces/dashes between groups
_CN_RUN = re.compile(r"(?<![0-9*" + "".join(_CN_DIGITS) + r"])" + _CN_D + r"(?:[\s\-－—]?" + _CN_D + r"){6,14}(?![0-9*" + "".join(_CN_DIGITS) + "])")
_CN_HINT = re.compile("[" + "".join(_CN_DIGITS) + "]{3}")
_IM_CUE = r"(?:[Qq]{2}|扣扣|企鹅|[Qq](?=号))(?:群)?(?:号码|号|账号|帐号)?"
_QQ = re.compile("(?P<cue>" + _IM_CUE + r")(?P<sep>[:：\s]*(?:是|为)?[:：\s]*)(?<![0-9*])(?P<num>[1-9][0-9]{4,11})(?![0-9])")
_WECHAT = re.compile(
    r"(?P<cue>微信|威信|薇信|VX|vx|Vx|WX|wx|Wx)(?P<sep>号?[:：\s]*(?:是|为)?[:：\s]*)"
    r"(?P<id>[A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])"
)
_IM_HINT = re.compile(r"[Qq]|扣扣|企鹅|微信|威信|薇信|[VvWw][Xx]")
# the first characters of _IM_HINT's alternatives: a text without one has no match (a class is
# scanned quickly; the alternation, which starts with a class, is tried at every position)
_IM_FIRST = re.compile(r"[QqVvWw扣企微威薇]")


def _mask_cn_numbers(text: str, counts: dict[str, int]) -> str:
    """Phones written in Chinese numerals; the masked form keeps the writer's characters."""

    def repl(m: re.Match[str]) -> str:
        run = m.group()
        pos = [i for i, c in enumerate(run) if c in _CN_DIGITS or c.isdigit()]
        if not any(run[i] in _CN_DIGITS for i in pos):
            return run
        d = "".join(_CN_DIGITS.get(run[i], run[i]) for i in pos)
        res = _classify(d, _Cues(text), m.start())
        if res is None:
            return run
        kind, masked = res
        counts[kind] += 1
        # keep the characters of the visible digits, star the others
        keep = {i for i, c in enumerate(masked) if c != "*"} if len(masked) == len(d) else set(range(3)) | set(range(len(d) - 4, len(d)))
        return "".join(run[p] if j in keep else "*" for j, p in enumerate(pos))

    return _CN_RUN.sub(repl, text)


def _mask_im(text: str, counts: dict[str, int]) -> str:
    """QQ numbers (QQ：12345678, 扣扣, q号, 企鹅号) and WeChat ids after 微信/VX."""

    def qq(m: re.Match[str]) -> str:
        counts["im_account"] += 1
        d = m.group("num")
        return m.group("cue") + m.group("sep") + (_mask_keep(d, 2, 2) if len(d) >= 8 else _mask_keep(d, 0, 2))

    def wechat(m: re.Match[str]) -> str:
        counts["im_account"] += 1
        i = m.group("id")
        return m.group("cue") + m.group("sep") + i[0] + _stars(len(i) - 1)

    text = _QQ.sub(qq, text)
    return _WECHAT.sub(wechat, text)


# ---------------------------------------------------------------------------------------------
# e-mail

_EMAIL = re.compile(
    r"(?<![\w.+@*-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![A-Za-z@.-])", re.ASCII
)


def _mask_email(text: str, counts: dict[str, int]) -> str:
    def repl(m: re.Match[str]) -> str:
        counts["email"] += 1
        return m.group(1)[0] + "***@" + m.group(2)

    return _EMAIL.sub(repl, text)


# ---------------------------------------------------------------------------------------------
# house / room numbers

_CN_NUM = "一二三四五六七八九十百零〇两"
_ROOM_END = r"(?![0-9０-９.．%％]|平|米|元|万|千|块|个|人|名|户|家|年|月|日|天|号楼|栋|幢|层|楼|余|多|次|辆|台|吨|度|岁|公里|千米|米)"
_HOUSE_TEMPLATES = (
    # (literal hint, pattern): building (3号楼 / 12栋 / 4幢 / A座 / G2栋 / 三号楼), unit, floor, room
    (
        re.compile(r"号楼|栋|幢|座|号院|#"),
        r"(?P<bld>(?:[A-Za-z]?D{1,4}|[N]{1,3}|[A-Za-z])\s*(?:号楼|栋|幢|座|号院|#楼?))"
        r"\s*[-—－]?\s*"
        r"(?:(?P<unit>D{1,2}|[N]{1,2})\s*单元\s*[-—－]?\s*)?"
        r"(?:(?P<floor>D{1,2})\s*(?:楼|层)\s*)?"
        r"(?P<room>D{2,5})\s*(?P<rsuf>室|号房|房间|房|号)?@END@",
    ),
    # 2单元501 without a building
    (re.compile(r"单元"), r"(?P<unit4>D{1,2})\s*单元\s*[-—－]?\s*(?P<room4>D{3,4})\s*(?P<rsuf4>室|号|房)?@END@"),
    # standalone room: 501室 / 1203房间
    (re.compile(r"室|房间"), r"(?<![0-9０-９])(?P<room2>D{3,5})\s*(?P<rsuf2>室|房间)"),
    # 3-2-501 (building-unit-room)
    (
        re.compile(r"[0-9０-９][-－—][0-9０-９]{1,2}[-－—][0-9０-９]"),
        r"(?<![0-9０-９\-－—.．/])(?P<b3>D{1,3})[-－—](?P<u3>D{1,2})[-－—](?P<r3>D{3,4})(?P<rsuf3>室|号)?(?![0-9０-９\-－—.．/])",
    ),
)
_HOUSE = tuple(
    (hint, re.compile(pat.replace("D{", _D + "{").replace("[N]", "[" + _CN_NUM + "]").replace("@END@", _ROOM_END)))
    for hint, pat in _HOUSE_TEMPLATES
)


def _mask_house(text: str, counts: dict[str, int]) -> str:
    def repl(m: re.Match[str]) -> str:
        g = m.groupdict()
        counts["house_number"] += 1
        if "room2" in g:
            return _stars(len(g["room2"])) + g["rsuf2"]
        if "r3" in g:
            return g["b3"] + "-" + _stars(len(g["u3"])) + "-" + _stars(len(g["r3"])) + (g["rsuf3"] or "")
        if "room4" in g:
            return _stars(len(g["unit4"])) + "单元" + _stars(len(g["room4"])) + (g["rsuf4"] or "")
        out = [g["bld"]]
        if g["unit"] is not None:
            out.append(_stars(len(g["unit"])) + "单元")
        if g["floor"] is not None:
            out.append(_stars(len(g["floor"])) + "楼")
        out.append(_stars(len(g["room"])) + (g["rsuf"] or ""))
        return "".join(out)

    for k, (hint, pattern) in enumerate(_HOUSE):
        if k == 0:
            # the first template is tried only where it can start (see _building_starts)
            starts = _building_starts(text, hint)
            if starts:
                text = _sub_at(pattern, text, starts, repl)
        elif hint.search(text) is not None:
            text = pattern.sub(repl, text)
    return text


_SPACE = re.compile(r"\s")


def _building_starts(text: str, marks: re.Pattern[str]) -> list[int]:
    """Where the first house template can start: its building part is a letter and 1–4
    digits, 1–3 Chinese numerals or one letter (1–5 characters, none a space), then spaces
    (``\\s*``) and a mark (号楼, 栋, # …) — so it ends where the spaces before a mark begin."""
    starts: set[int] = set()
    for m in marks.finditer(text):
        q = m.start()
        while q > 0 and _SPACE.match(text, q - 1) is not None:
            q -= 1
        starts.update(range(max(0, q - 5), q))
    return sorted(starts)


# ---------------------------------------------------------------------------------------------
# licence plates

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(
    r"(?P<head>[" + _PROVINCES + r"][A-HJ-NP-Z])(?P<sep>\s?[·•・.\-]?\s?)"
    r"(?P<body>[A-HJ-NP-Z0-9]{5,6}|[A-HJ-NP-Z0-9]{4}[挂学警港澳领试超])"
    r"(?![A-Za-z0-9])"
)


def _mask_plate(text: str, counts: dict[str, int]) -> str:
    def repl(m: re.Match[str]) -> str:
        body = m.group("body")
        if not any(c.isdigit() for c in body):
            return m.group()
        counts["plate"] += 1
        return m.group("head") + (m.group("sep").strip() or "") + _stars(len(body))

    return _PLATE.sub(repl, text)


# ---------------------------------------------------------------------------------------------
# names

_SURNAME_ALT = (
    "(?:" + "|".join(_names.COMPOUND_SURNAMES) + "|[" + "".join(dict.fromkeys(_names.SINGLE_SURNAMES)) + "])"
)
_STOPW = "(?!" + "|".join(_names.GIVEN_STOP_WORDS) + ")"
_G = "(?:" + _STOPW + "(?:[XxＸｘ]|[^\\W\\d_A-Za-z" + _names.GIVEN1_STOP_CHARS + "]))"
_GIVEN = _G + _G + "?"
_G2_STOP = frozenset(_names.GIVEN2_STOP_CHARS)
_CUE_ALT = "|".join(sorted(_names.STRONG_CUES + _names.WEAK_CUES + _names.ROLE_CUES, key=len, reverse=True))
_STRONG = frozenset(_names.STRONG_CUES)
# grid-report role labels (网格员, 上报人 …): after them an ambiguous surname closed by punctuation
# counts ("（网格员：关敏）", "重点人员文娟，") — except 和/向/于, which there read as a conjunction or
# preposition ("网格员和民警、", "网格员向物业、", "网格员于现场，") unless the label has a colon
_ROLE = frozenset(_names.ROLE_CUES)
_ROLE_ALT = "|".join(sorted(_names.ROLE_CUES, key=len, reverse=True))
_ROLE_PREP = frozenset("和向于")
# weak cues that introduce the person the record is about: after them a name closed by
# punctuation or 来访/反映 … is taken even when its surname is also an everyday word (本人方丽，)
_INTRO = frozenset(("本人", "信访人", "来访人", "投诉人", "举报人", "反映人", "来电人", "申请人", "当事人",
                    "求助人", "报警人", "委托人", "代理人"))
_NAME_AFTER_CUE = re.compile(
    "(?P<cue>" + _CUE_ALT + r")(?P<sep>[:：\s]*(?:是|为|叫)?[:：\s]*)"
    "(?P<sur>" + _SURNAME_ALT + ")(?P<given>" + _GIVEN + ")"
)
_NAME_CUE_HINT = re.compile(_CUE_ALT)
# name right before a contact word or a bracketed role: "，陈洪道电话…", "投诉人 刘严联系电话",
# "：高德明（网格员）"
_CONTACT_AFTER = r"(?:联系)?(?:电话|手机|方式|身份证|TEL|Tel|tel|[（(](?:联系|电话|手机|身份证|" + _ROLE_ALT + "))"
_NAME_BEFORE_CONTACT = re.compile(
    r"(?:(?<=[\s，,。；;：:、（()）])|^)(?P<sur>" + _SURNAME_ALT + ")(?P<given>" + _GIVEN + ")(?=" + _CONTACT_AFTER + ")"
)
# a name heading a petition record: "张三等5人来访", "李四与2名邻居来访"
_GROUP_AFTER = r"(?:等|与|和|及|一行)\s*[0-9０-９一二三四五六七八九十几多]+\s*(?:名|人|位|户|个)"
_NAME_BEFORE_GROUP = re.compile(
    r"(?:(?<=[\s，,。；;：:、（()）])|^)(?P<sur>" + _SURNAME_ALT + ")(?P<given>" + _GIVEN + ")(?=" + _GROUP_AFTER + ")"
)
_GROUP_HINT = re.compile(_GROUP_AFTER)
_CONTACT_HINT = re.compile(r"电话|手机|身份证|联系方式|TEL|Tel|tel|[（(](?:" + _ROLE_ALT + ")")
# a phone number masked above, right after a name: "刘洋138****5678", "石磊（138****5678）"
_MASKED_PHONE = r"[（(]?[0-9０-９]{0,4}[-－]?\*{3}"
# what closes a name: punctuation, a contact word, a masked phone, 男/女, 现年 …
_NAME_END = re.compile(
    r"[\s，,。.；;：:、（()）!！?？“”\"]|$|" + _CONTACT_AFTER + "|" + _MASKED_PHONE
    + r"|[男女]|现年|今年|家住|现住|住在|身份|反映|反应|投诉|举报|来电|来访|来信|网上|表示|要求|称|说|等"
)
# after a weak cue, a surname that is also an everyday word needs a contact word, a masked phone or
# 男/女 after it (after a grid-report role label, whatever closes a name: see _ROLE)
_NAME_END_STRICT = re.compile(
    r"[\s，,、:：]*(?:" + _CONTACT_AFTER + "|" + _MASKED_PHONE + r"|[男女][\s，,。；;、）)]|现年|今年|家住|现住|住址|身份)"
)


def _common(word: str) -> bool:
    return word in _names.NON_NAMES or word in _names.common_words()


def _name_len(
    text: str, gstart: int, sur: str, given: str, strong: bool, intro: bool = False, role: bool = False,
    label: bool = False,
) -> int:
    """How many given-name characters to mask (0: not a name).

    ``role``: the cue is a grid-report role label; ``label``: … followed by a colon ("网格员：于红梅，").
    """
    ambiguous = sur in _names.AMBIGUOUS_SURNAMES and not intro
    role = role and (label or sur not in _ROLE_PREP)
    for k in (2, 1) if len(given) == 2 else (1,):
        end = gstart + k
        closed = _NAME_END.match(text, end) is not None
        if k == 2 and given[1] in _G2_STOP and (not closed or _common(sur + given[0])):
            continue  # "刘明和…" is 刘明; "学生毕业后，" is no name
        name = sur + given[:k]
        if strong:
            if ambiguous and not closed:
                continue
            return k
        if _common(name):
            continue  # 业主利益，学生劳累，群众满意
        if (_NAME_END_STRICT.match(text, end) or (role and closed)) if ambiguous else closed:
            return k
    return 0


# more names in a list after a masked one: "村民王**、李四、张三丰，"
_NAME_LIST = re.compile(
    r"(?<=[\u3400-\u9fff]\*)(?P<sep>\*?[、和与及])(?P<sur>" + _SURNAME_ALT + ")(?P<given>" + _GIVEN + ")"
)


def _star_spans(
    text: str, spans: list[tuple[int, int, int]], counts: dict[str, int], found: dict[str, str], found_short: set[str]
) -> str:
    """Star the given names of ``spans`` (``(start, surname_length, given_length)``)."""
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, k, g in spans:
        a = start + k
        out.append(text[last:a])
        out.append(_stars(g))
        last = a + g
        counts["name"] += 1
        if g >= 2:  # a two-character name is looked for elsewhere only where it stands alone
            found.setdefault(text[start:last], text[start:a] + _stars(g))
        else:
            found_short.add(text[start:last])
    out.append(text[last:])
    return "".join(out)


def _sub_at(pattern: re.Pattern[str], text: str, starts: list[int], repl: Callable[[re.Match[str]], str]) -> str:
    """``pattern.sub(repl, text)`` for a pattern that can only start at ``starts`` (see
    :func:`person._finditer_at`); ``repl`` is called for each match in order, as ``sub`` does."""
    found = person._finditer_at(pattern, text, starts)
    if not found:
        return text
    out: list[str] = []
    last = 0
    for m in found:
        out.append(text[last : m.start()])
        out.append(repl(m))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def _mask_names(text: str, counts: dict[str, int]) -> str:
    # where the cue, contact and context words stand (one pass; every replacement below keeps
    # the length of the text, so these positions stay valid: see person.Anchors)
    hits = person.Anchors(text)
    role_ends: set[int] = set()  # where names after a role label end: a list there continues it
    found: dict[str, str] = {}  # full name → its masked form (to mask its other mentions too)

    def repl_cue(m: re.Match[str]) -> str:
        sur, given = m.group("sur"), m.group("given")
        cue = m.group("cue")
        role = cue in _ROLE
        label = role and (":" in m.group("sep") or "：" in m.group("sep"))
        k = _name_len(text, m.start("given"), sur, given, cue in _STRONG, cue in _INTRO, role, label)
        if not k:
            return m.group()
        counts["name"] += 1
        if role:
            role_ends.add(m.start("given") + k)
        found[sur + given[:k]] = sur + _stars(k)
        return m.group("cue") + m.group("sep") + sur + _stars(k) + given[k:]

    def repl_list(m: re.Match[str]) -> str:
        role = m.end("sep") - 1 in role_ends  # "网格员高**、石磊，"
        k = _name_len(text, m.start("given"), m.group("sur"), m.group("given"), False, role=role)
        if not k:
            return m.group()
        counts["name"] += 1
        if role:
            role_ends.add(m.start("given") + k)
        found[m.group("sur") + m.group("given")[:k]] = m.group("sur") + _stars(k)
        return m.group("sep") + m.group("sur") + _stars(k) + m.group("given")[k:]

    def repl_contact(m: re.Match[str]) -> str:
        token = m.group()
        if token[:2] in _names.NON_NAMES or _common(token):
            return token
        counts["name"] += 1
        found[token] = m.group("sur") + _stars(len(m.group("given")))
        return m.group("sur") + _stars(len(m.group("given")))

    if hits.flags & person.F_CUE:  # _NAME_CUE_HINT: a cue word (the text is as scanned)
        before = counts["name"]
        text = _sub_at(_NAME_AFTER_CUE, text, hits.starts(person.F_CUE), repl_cue)
        for _ in range(8):
            if counts["name"] == before:
                break
            before = counts["name"]
            text = _NAME_LIST.sub(repl_list, text)
    if hits.still(person.F_CONTACT_HINT, text):  # _CONTACT_HINT.search(text), on the text as it is now
        # the name is 2–4 characters and ends where _CONTACT_AFTER starts
        text = _sub_at(_NAME_BEFORE_CONTACT, text, hits.starts(person.F_CONTACT_AT, (2, 3, 4)), repl_contact)
    if _GROUP_HINT.search(text) is not None:
        text = _NAME_BEFORE_GROUP.sub(repl_contact, text)
    # third parties: 何X高医生, 请求人：肖X梁, 乐X逵，男, …中学陈X， (see person.py)
    short: set[str] = set()
    confident: set[str] = set()
    text = _star_spans(text, person.find_names(text, confident, hits), counts, found, short)
    # names listed beside the ones now starred: "张**、高威、彭*", "刘*曾**熊疆高谊唐**"
    if "*" in text:
        listed = person.listed_names(text)
        if listed:
            confident.update(text[s : s + k + g] for s, k, g in listed)
            text = _star_spans(text, listed, counts, found, short)
    # a name found once is masked wherever else it stands ("我是张伟，张伟超市…" → "张*超市"), longest first
    for name in sorted(found, key=len, reverse=True):
        if len(name) >= 2 and name in text:
            counts["name"] += text.count(name)
            text = text.replace(name, found[name])
    # other mentions of a two-character third-party name found with a context ("向民警毛骏反映，
    # 毛骏不仅…"), but not inside a word or before a place (梅溪 → 梅溪湖)
    for name in (short & confident) if short and confident else ():
        if name in text:
            for i in person.other_mentions(text, name):
                counts["name"] += 1
                text = text[: i + 1] + "*" + text[i + 2 :]
    return text


# ---------------------------------------------------------------------------------------------
# public entry point

def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    """Mask personal data in ``text``.

    Returns the masked text and a count of masked items for every kind in :data:`PII_KINDS`
    (all keys always present, zero when none was found).

    >>> masked, counts = mask_pii("联系人：王芳 电话：0731-88888888")
    >>> masked
    '联系人：王* 电话：0731-****8888'
    >>> counts["name"], counts["landline"], counts["mobile"]
    (1, 1, 0)
    >>> mask_pii("")
    ('', {'name': 0, 'mobile': 0, 'landline': 0, 'id_number': 0, 'email': 0, 'bank_card': 0, 'plate': 0, 'house_number': 0, 'im_account': 0})
    """
    counts = dict.fromkeys(PII_KINDS, 0)
    if not text:
        return text, counts
    text = normalize(text)
    if "@" in text:
        text = _mask_email(text, counts)
    if _CN_HINT.search(text) is not None:
        text = _mask_cn_numbers(text, counts)
    if _IM_FIRST.search(text) is not None and _IM_HINT.search(text) is not None:
        text = _mask_im(text, counts)
    if _ANY_DIGIT.search(text) is not None:
        text = _mask_numbers(text, counts)
        text = _mask_house(text, counts)
        text = _mask_plate(text, counts)
    text = _mask_names(text, counts)
    return text, counts


# ---------------------------------------------------------------------------------------------
# leak scanner (for tests and audits)

# "(?<![0-9０-９])1…" written "1(?<![0-9０-９]1)…" (see _NUM_TOKEN_FAST): the same matches
_LEAK_MOBILE = re.compile(r"1(?<![0-9０-９]1)[3-9][0-9](?:[-\s]?[0-9]){8}(?![0-9０-９])")
_LEAK_ID = re.compile(r"[1-9](?<![0-9０-９][1-9])[0-9]{16}[0-9Xx](?![0-9０-９])")
_LEAK_LANDLINE = re.compile(r"0(?<![0-9０-９]0)[1-9][0-9]{1,2}[-－—\s)）]?[2-9][0-9]{6,7}(?![0-9０-９])")
# seven digits, each but the first after at most one dash or space: every leak pattern holds
# such a run (a mobile's 11 digits; an ID's 18 and a landline's 7–8 local digits in a row)
_LEAK_HINT = re.compile(r"[0-9](?:[-\s]?[0-9]){6}")


def find_pii_leaks(text: str) -> list[tuple[str, str]]:
    """Phone/ID patterns still present in ``text`` as ``(kind, match)`` — used to audit output.

    Independent of the masking patterns: any 11-digit mobile (single spaces or dashes allowed),
    any 18-digit resident ID (valid date and checksum) and any area-code landline counts
    wherever it stands, unless it is part of a longer digit run.

    >>> find_pii_leaks("电话13812345678")
    [('mobile', '13812345678')]
    >>> find_pii_leaks(mask_pii("电话13812345678")[0])
    []
    """
    plain = text.translate(_FULLWIDTH)
    out: list[tuple[str, str]] = []
    out += [("mobile", m.group()) for m in _LEAK_MOBILE.finditer(plain)]
    out += [("id_number", m.group()) for m in _LEAK_ID.finditer(plain) if _is_id18(m.group())]
    out += [("landline", m.group()) for m in _LEAK_LANDLINE.finditer(plain)]
    return out
