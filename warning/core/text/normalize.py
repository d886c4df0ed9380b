"""Text normalisation before personal-data matching: invisible characters and other digit forms.

People (and copy-paste) split numbers with characters nobody sees — zero-width spaces, joiners,
soft hyphens, direction marks, a byte-order mark — or write them in full-width or other
scripts' digits (１３８, ١٣٨, 𝟏𝟑𝟖). :func:`normalize` removes the invisible characters and
writes every decimal digit, full-width Latin letter and ``＠`` in ASCII, so that one set of
patterns sees ``13812345678`` however it was typed. Chinese punctuation (，：（）) and the
ideographic space stay as they are; a zero-width joiner is kept inside emoji sequences.

The masker returns the *normalised* text (masked): offsets into it are offsets into the output.

>>> normalize("138\\u200b1234\\u200b5678")
'13812345678'
>>> normalize("电话：１３８ １２３４ ５６７８，ＱＱ：１２３４５")
'电话：138 1234 5678，QQ：12345'
>>> normalize("我叫\\u00ad张\\u2060三，")
'我叫张三，'
>>> normalize("普通文本，没有变化。") == "普通文本，没有变化。"
True
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

__all__ = ["normalize"]

# format characters that render as nothing: soft hyphen, combining grapheme joiner, Arabic letter
# mark, Mongolian vowel separator, zero-width space/non-joiner, LRM/RLM, bidi embeddings and
# isolates, word joiner and invisible operators, BOM / zero-width no-break space, Hangul fillers
_INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0"
# the zero-width joiner only between letters/digits (inside emoji it joins the pictures)
_ZWJ = "(?<=[0-9A-Za-z\u3400-\u9fff０-９])\u200d|\u200d(?=[0-9A-Za-z\u3400-\u9fff０-９])"
_DROP = re.compile("[" + _INVISIBLE + "]+|" + _ZWJ)
# one of the characters _DROP removes: without one, it has nothing to do (its look-behind branch
# would otherwise be tried at every position)
_DROP_HINT = re.compile("[" + _INVISIBLE + "\u200d]")
# non-ASCII decimal digits (full-width, Arabic-Indic, mathematical …), full-width Latin letters and @
_WIDE = re.compile(r"(?![0-9])\d|[Ａ-Ｚａ-ｚ＠]")


def _wide_bmp() -> re.Pattern[str]:
    """:data:`_WIDE` for texts without astral characters, as one character class (a look-ahead
    first is tried at every position; a class of the basic plane is a table look-up). Its members
    are taken from ``re``'s own ``\\d`` over every non-ASCII code point of the basic plane, so on
    such texts the two patterns match the same characters by construction."""
    cp = np.arange(0x80, 0x10000, dtype=np.uint32)
    cp = cp[(cp < 0xD800) | (cp > 0xDFFF)]  # no surrogates
    digits = re.findall(r"\d", cp.tobytes().decode("utf-32-le"))
    return re.compile("[" + "".join(digits) + "Ａ-Ｚａ-ｚ＠]")


_WIDE_BMP = _wide_bmp()
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# any character normalize changes or needs the general pattern for: without one, the text stays
_ANY_HINT = re.compile("[" + _INVISIBLE + "\u200d" + _WIDE_BMP.pattern[1:-1] + "\U00010000-\U0010ffff]")


def _ascii(m: re.Match[str]) -> str:
    c = m.group()
    d = unicodedata.decimal(c, None)
    return str(d) if d is not None else chr(ord(c) - 0xFEE0)


def normalize(text: str) -> str:
    """``text`` without invisible characters, with digits, full-width letters and ``＠`` in ASCII."""
    if text.isascii() or _ANY_HINT.search(text) is None:
        return text
    if _DROP_HINT.search(text) is not None:
        text = _DROP.sub("", text)
    if _ASTRAL.search(text) is not None:  # astral digits (𝟏): the general pattern
        return _WIDE.sub(_ascii, text)
    return _WIDE_BMP.sub(_ascii, text)
