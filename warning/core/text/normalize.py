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

__all__ = ["normalize"]

# format characters that render as nothing: soft hyphen, combining grapheme joiner, Arabic letter
# mark, Mongolian vowel separator, zero-width space/non-joiner, LRM/RLM, bidi embeddings and
# isolates, word joiner and invisible operators, BOM / zero-width no-break space, Hangul fillers
_INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0"
# the zero-width joiner only between letters/digits (inside emoji it joins the pictures)
_ZWJ = "(?<=[0-9A-Za-z\u3400-\u9fff０-９])\u200d|\u200d(?=[0-9A-Za-z\u3400-\u9fff０-９])"
_DROP = re.compile("[" + _INVISIBLE + "]+|" + _ZWJ)
# non-ASCII decimal digits (full-width, Arabic-Indic, mathematical …), full-width Latin letters and @
_WIDE = re.compile(r"(?![0-9])\d|[Ａ-Ｚａ-ｚ＠]")


def _ascii(m: re.Match[str]) -> str:
    c = m.group()
    d = unicodedata.decimal(c, None)
    return str(d) if d is not None else chr(ord(c) - 0xFEE0)


def normalize(text: str) -> str:
    """``text`` without invisible characters, with digits, full-width letters and ``＠`` in ASCII."""
    if text.isascii():
        return text
    text = _DROP.sub("", text)
    return _WIDE.sub(_ascii, text)
