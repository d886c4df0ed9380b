"""Where the receiver kinds are registered: ``kind`` → (configuration class, notifier class).

The only module that imports every kind. A new kind is one module in :mod:`warning.notify.kinds`
(a :class:`~warning.notify.base.ReceiverBase` subclass with ``kind: Literal["…"]`` and a
:class:`~warning.notify.base.Notifier`) plus one line in :data:`KINDS`.

>>> sorted(KINDS)
['alertmanager', 'dingtalk', 'generic', 'wecom']
>>> r = parse_receiver({"name": "ops", "kind": "generic", "url": "http://127.0.0.1:9/x"})
>>> type(r).__name__, type(build_notifier(r)).__name__
('GenericReceiver', 'GenericNotifier')
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Union

from pydantic import Field, TypeAdapter

from warning.notify.base import Notifier, ReceiverBase
from warning.notify.kinds.alertmanager import AlertmanagerNotifier, AlertmanagerReceiver
from warning.notify.kinds.dingtalk import DingTalkNotifier, DingTalkReceiver
from warning.notify.kinds.generic import GenericNotifier, GenericReceiver
from warning.notify.kinds.wecom import WeComNotifier, WeComReceiver

KINDS: dict[str, tuple[type[ReceiverBase], type[Notifier]]] = {
    "generic": (GenericReceiver, GenericNotifier),
    "alertmanager": (AlertmanagerReceiver, AlertmanagerNotifier),
    "wecom": (WeComReceiver, WeComNotifier),
    "dingtalk": (DingTalkReceiver, DingTalkNotifier),
}

#: an entry of ``receivers:``: one class per kind, chosen by ``kind``
ReceiverConfig = Annotated[Union[tuple(cfg for cfg, _ in KINDS.values())], Field(discriminator="kind")]  # type: ignore[misc]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(ReceiverConfig)


def parse_receiver(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> ReceiverBase:
    """Validate one ``receivers:`` entry (secrets from ``env``, default ``os.environ``)."""
    return _ADAPTER.validate_python(dict(data), context=None if env is None else {"env": env})


def build_notifier(receiver: ReceiverBase, **kw: Any) -> Notifier:
    """The notifier for ``receiver`` (its kind's class)."""
    return KINDS[receiver.kind][1](receiver, **kw)
