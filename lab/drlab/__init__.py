"""drlab: a local disaster-recovery lab of real OpenBao clusters behind a Vault-compatible DR gateway."""

from .lab import Cluster, Lab, LabError

__all__ = ["Cluster", "Lab", "LabError"]
__version__ = "0.1.0"
