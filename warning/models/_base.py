"""Shared plumbing for the detectors: versioned pickling and state-size measurement.

Every detector carries a ``VERSION`` class attribute. The version is written into the pickled
state, and unpickling a state written by another version raises
:class:`IncompatibleStateError` with a message that says which class and which versions, instead
of silently resuming with parameters whose meaning has changed.
"""

from __future__ import annotations

import pickle
from typing import Any

from river import base

__all__ = ["IncompatibleStateError", "VersionedDetector", "state_size"]

_VERSION_KEY = "__warning_model_version__"
_CLASS_KEY = "__warning_model_class__"


class IncompatibleStateError(ValueError):
    """A pickled detector state was written by an incompatible version of the detector."""


def state_size(obj: Any) -> int:
    """Bytes of ``obj`` pickled with the highest protocol (what a state table would store)."""
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


class VersionedDetector(base.AnomalyDetector):
    """Base class: River's anomaly-detector protocol plus versioned, self-checking pickles.

    Subclasses set ``VERSION`` (an int) and bump it whenever the meaning or layout of their state
    changes. Attributes listed in ``_TRANSIENT`` are not pickled (they are restored as ``None``).
    """

    VERSION: int = 1
    _TRANSIENT: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in self._TRANSIENT}
        state[_VERSION_KEY] = type(self).VERSION
        state[_CLASS_KEY] = type(self).__qualname__
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        version = state.pop(_VERSION_KEY, None)
        name = state.pop(_CLASS_KEY, type(self).__qualname__)
        if version != type(self).VERSION:
            raise IncompatibleStateError(
                f"cannot load {name} state written by model version {version!r}: "
                f"this code is {type(self).__qualname__} version {type(self).VERSION}; "
                "re-learn the state (replay the history) or run the matching code version"
            )
        for k in self._TRANSIENT:
            state.setdefault(k, None)
        self.__dict__.update(state)

    def state_size(self) -> int:
        """Bytes of this detector's pickled state."""
        return state_size(self)
