"""A local Atlassian Cloud site for development and tests (S11 exercised end to end, with real HTTP)."""

from pledge.sim.connect_site import ConnectSim, Installation, InstallSigner, SimError
from pledge.sim.site import Exchange, Recorder, RestCaller, RestRefused, SimSite

__all__ = [
    "ConnectSim",
    "Exchange",
    "InstallSigner",
    "Installation",
    "Recorder",
    "RestCaller",
    "RestRefused",
    "SimError",
    "SimSite",
]
