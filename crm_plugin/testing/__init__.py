"""Test helpers for hosts and for the plugin's own tests.

- ``InMemoryGateway``: a complete CrmGateway in memory, for unit tests of the bot without a CRM.
- ``GatewayContract`` + ``ContractWorld``: the contract suite a host runs against its own gateway
  (see crm_plugin.testing.contract and the world it expects in crm_plugin.testing.world).
- ``fill_stats``: months of orders, visits and leads in an InMemoryGateway, for the statistics' tests.

The suite needs pytest; the in-memory gateway does not, so the suite is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .memory import InMemoryGateway
from .stats import StatsWorld, fill_stats
from .store import AttachedFile, MemoryStore, StatusChange, StoredLead
from .world import ContractWorld, build_memory_world

try:  # the suite's plain asserts report their values, as in the host's own test files
    import pytest
except ImportError:  # pragma: no cover - a host without pytest uses only the in-memory gateway
    pass
else:
    pytest.register_assert_rewrite("crm_plugin.testing.checks", "crm_plugin.testing.contract",
                                   "crm_plugin.testing.contract_metrics")

if TYPE_CHECKING:
    from .contract import GatewayContract

__all__ = ["AttachedFile", "ContractWorld", "GatewayContract", "InMemoryGateway", "MemoryStore", "StatsWorld",
           "StatusChange", "StoredLead", "build_memory_world", "fill_stats"]


def __getattr__(name: str) -> Any:
    if name == "GatewayContract":
        from .contract import GatewayContract

        return GatewayContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
