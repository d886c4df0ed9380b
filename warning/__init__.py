"""warning — 社会稳定风险预警: a streaming risk early-warning pipeline for city social governance."""

__version__ = "0.1.0"
