"""The pure, deterministic core: parse, enrich, window, detect, decide.

Nothing in this package touches the network, Faust or the wall clock (except where a caller
passes a clock in). The Faust agents and the backtest engine call the same functions.
"""
