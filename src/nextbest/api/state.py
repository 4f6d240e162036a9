"""What the app serves: the current decider (one per loaded bundle) and the contact gate."""

from __future__ import annotations

from dataclasses import dataclass, field

from nextbest.api.admission import Admission
from nextbest.decide.decider import Decider
from nextbest.history.recorder import HistoryRecorder
from nextbest.pressure.gate import PressureGate

__all__ = ["Serving"]


@dataclass(slots=True)
class Serving:
    """Holds the decider in use. A request reads `decider` once and uses that object to the
    end, so replacing it (a bundle reload) never mixes two bundles in one answer."""

    decider: Decider
    gate: PressureGate
    history: HistoryRecorder | None = None
    """Where decisions and responses are recorded; None when the history is off."""
    started: bool = False
    """Start-up has finished (the store was tried); until then the service is not ready."""
    admission: Admission = field(default_factory=Admission)
    """How many decisions run at once, and how long the others may wait."""
