"""The package version, read from plugin.toml: the manifest is its one source of truth.

setuptools loads this file on its own at build time (``version = attr:`` in setup.cfg), so it imports
nothing from the package.
"""

from __future__ import annotations

import tomllib
from pathlib import Path


def bundle_path(name: str) -> Path:
    """Where a top-level asset (plugin.toml, migrations, templates, static) lives: inside the installed
    wheel under ``crm_plugin/bundle/``, in a checkout or editable install at the repository top."""
    installed = Path(__file__).resolve().parent / "bundle" / name
    return installed if installed.exists() else Path(__file__).resolve().parents[1] / name


with bundle_path("plugin.toml").open("rb") as _manifest:
    __version__: str = tomllib.load(_manifest)["plugin"]["version"]
