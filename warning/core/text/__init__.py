"""Text signals for the pure core: personal-data masking, risk terms, online sentiment, anger.

Everything here is synchronous and deterministic, so the stream workers and the backtest engine
compute the same signals from the same text.

>>> from warning.core.text import TextEnricher, mask_pii
>>> enricher = TextEnricher.from_config({})
>>> sig = enricher.enrich("我叫张小明，电话13812345678。工地拖欠工资半年，再不给钱我就跳楼！")
>>> sig.masked
'我叫张**，电话138****5678。工地拖欠工资半年，再不给钱我就跳楼！'
>>> sig.risk["hits"]
{'维权/经济': 1, '极端/人身': 1}
>>> sig.sentiment_neg > 0.5
True
>>> 0.0 < sig.anger <= 1.0
True
"""

from warning.core.text.enrich import TextConfig, TextEnricher, TextSignals
from warning.core.text.mask import PII_KINDS, find_pii_leaks, mask_pii
from warning.core.text.mood import AngerScorer
from warning.core.text.risk import Lexicon, RiskMatcher
from warning.core.text.sentiment import SentimentModel

__all__ = [
    "AngerScorer",
    "PII_KINDS",
    "Lexicon",
    "RiskMatcher",
    "SentimentModel",
    "TextConfig",
    "TextEnricher",
    "TextSignals",
    "find_pii_leaks",
    "mask_pii",
]
