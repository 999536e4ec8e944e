"""--multi: "did you mean 4021?". When a number is not sure, the view offers its best
whole-number alternative (from the API's k-best readings) on one line of the number panel; a
tap there takes it: each digit it changes is stored as a correction, as a tap on that digit's
bar would store it, and the number is read again (so it now reads as the alternative). Undo
takes back all of that tap's corrections at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.api_read import learn_correction
from mnist_edge.edge_app.api_types import Candidate
from mnist_edge.edge_app.app.state import corrections

if TYPE_CHECKING:
    from mnist_edge.edge_app.app.host import AppHost
    from mnist_edge.edge_app.app.state import AppState


def offered(state: AppState) -> Candidate | None:
    """The alternative the number panel offers now, if any (never while collecting: there
    the number is the prompt's)."""
    if state.number is None or state.prompt or not state.digits:
        return None
    return state.number.alternative


def take_alternative(app: AppHost) -> None:
    """The person tapped "did you mean ...?": learn its digits and read the number again."""
    chosen, number = offered(app.state), app.state.number
    if chosen is None or number is None:
        return
    learner = app.recognizer.learner
    if not app.config.learn or learner is None:
        app.state.say("learning is off (started with --no-learn)", warning=True)
        return
    try:
        stored = learn_correction(app.recognizer, number, chosen.text)
    except UserError as exc:
        app.state.say(str(exc), warning=True)
        return
    app.state.last_correction = stored
    problem = app._save_profile()
    if problem is None:
        app.state.say(f"Learned: this is {chosen.text} ({corrections(len(learner))})")
    app.predict_now()
