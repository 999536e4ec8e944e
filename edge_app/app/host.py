"""What the app's helper rooms (corrections, the "did you mean" line, collecting) may use of
the running app: a protocol, so they depend on this and the loop depends on them, no circle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mnist_edge.edge_app.app.state import AppState
    from mnist_edge.edge_app.recognizer import Recognizer


class AppHost(Protocol):
    state: AppState
    recognizer: Recognizer
    collector: Any  # the Collector or None (collect.py's actions use this protocol)
    config: Any  # the loop's AppConfig: multi, learn, ...
    view: Any
    needs_prediction: bool
    correction_before_tap: bool | int

    @property
    def learning(self) -> bool: ...

    def predict_now(self) -> None: ...

    def clear(self) -> None: ...

    def warn(self, message: str) -> None: ...

    def _save_profile(self) -> str | None: ...
