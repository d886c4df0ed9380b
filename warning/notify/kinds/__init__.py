"""One module per receiver kind, each with its configuration class and its notifier:
:mod:`.generic`, :mod:`.alertmanager`, :mod:`.wecom`, :mod:`.dingtalk` (what they share is in
:mod:`.common`). They are registered in :mod:`warning.notify.wiring`; this package imports nothing.
"""
