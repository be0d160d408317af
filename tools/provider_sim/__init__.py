"""A loopback HTTP simulator of the HeyGen, RunwayML and D-ID APIs with on-demand faults.

Start it with ``python -m tools.provider_sim --port N`` or ``ProviderSim.in_process()``; point the
adapters at ``http://127.0.0.1:N/heygen``, ``.../runwayml`` and ``.../did``.
"""

from tools.provider_sim.faults import Fault, FaultKind
from tools.provider_sim.harness import ProviderSim

__all__ = ["Fault", "FaultKind", "ProviderSim"]
