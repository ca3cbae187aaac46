"""Reads and validates plugin.toml, the plugin's manifest.

A broken manifest stops loading with one line that names the file, the field and the fix.
"""

from __future__ import annotations

import importlib.metadata
import platform
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .._version import bundle_path
from .errors import PluginStartupError

SETTING_TYPES: dict[str, type] = {"str": str, "int": int, "bool": bool, "float": float}


class ManifestError(PluginStartupError):
    """plugin.toml is missing, unreadable or invalid."""


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    description: str
    choices: tuple[Any, ...] = ()  # allowed values, when the key takes only a few
    minimum: float | None = None  # smallest allowed number


@dataclass(frozen=True)
class MenuEntry:
    category: str
    name: str
    endpoint: str


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    slug: str
    version: str
    entry_point: str
    description: dict[str, str]
    requires: dict[str, str]
    migrations_path: Path
    version_table: str
    settings: tuple[Setting, ...]
    admin_menu: tuple[MenuEntry, ...]
    permissions: dict[str, str] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {setting.key: setting.default for setting in self.settings}


class _Reader:
    """Pulls typed fields out of the parsed TOML, failing with the file, the field and the fix."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def fail(self, field_name: str, fix: str) -> ManifestError:
        return ManifestError(f"{self.path}: field '{field_name}' {fix}")

    def get(self, dotted: str, kind: type, example: str) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise self.fail(dotted, f"is missing; add {example}")
            node = node[part]
        if not isinstance(node, kind) or (isinstance(node, str) and not node.strip()):
            raise self.fail(dotted, f"must be a non-empty {kind.__name__}; write it as {example}")
        return node


def load_manifest(path: Path | None = None) -> Manifest:
    path = path or bundle_path("plugin.toml")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ManifestError(f"{path}: file is missing; reinstall the plugin (pip install crm_plugin)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc}); fix the syntax at that place") from None

    read = _Reader(path, data)
    version = read.get("plugin.version", str, 'version = "1.2.3" under [plugin]')
    requires = read.get("requires", dict, '[requires] with python = ">=3.11" and flask = ">=3.0"')
    for name in ("python", "flask"):
        read.get(f"requires.{name}", str, f'{name} = ">=X.Y" under [requires]')
    _check_requirements(read, requires)

    migrations = read.get("migrations.path", str, 'path = "migrations" under [migrations]')
    migrations_path = bundle_path(migrations)
    if not (migrations_path / "env.py").is_file():
        raise read.fail("migrations.path", f"points to {migrations_path}, which has no env.py; "
                                           "point it at the plugin's Alembic folder")

    return Manifest(
        path=path,
        name=read.get("plugin.name", str, 'name = "CRM Bots" under [plugin]'),
        slug=read.get("plugin.slug", str, 'slug = "crm_plugin" under [plugin]'),
        version=version,
        entry_point=read.get("plugin.entry_point", str, 'entry_point = "crm_plugin:CrmPlugin"'),
        description={lang: read.get(f"plugin.description.{lang}", str, f'{lang} = "..." under '
                                    "[plugin.description]") for lang in ("ru", "en")},
        requires=dict(requires),
        migrations_path=migrations_path,
        version_table=read.get("migrations.version_table", str, 'version_table = "crm_plugin_alembic_version"'),
        settings=tuple(_settings(read)),
        admin_menu=tuple(_menu(read)),
        permissions={p["name"]: p.get("description", "") for p in data.get("permissions", [])},
    )


def _check_requirements(read: _Reader, requires: dict[str, str]) -> None:
    installed = {"python": platform.python_version(), "flask": importlib.metadata.version("flask")}
    for name, have in installed.items():
        try:
            wanted = SpecifierSet(requires[name])
        except InvalidSpecifier:
            raise read.fail(f"requires.{name}", f'is not a version range; write e.g. {name} = ">=3.0"') from None
        if have not in wanted:
            raise read.fail(f"requires.{name}", f"asks for {name} {wanted} but {have} is installed; "
                                                f"install a matching {name}")


def _settings(read: _Reader) -> list[Setting]:
    settings = read.data.get("settings", [])
    if not isinstance(settings, list):
        raise read.fail("settings", "must be an array of tables: [[settings]]")
    result = []
    for index, raw in enumerate(settings):
        where = f"settings[{index}]"
        key = raw.get("key")
        if not isinstance(key, str) or not key.startswith("CRM_PLUGIN_"):
            raise read.fail(f"{where}.key", 'must be a string starting with CRM_PLUGIN_; write key = "CRM_PLUGIN_..."')
        type_name = raw.get("type")
        if type_name not in SETTING_TYPES:
            raise read.fail(f"{where}.type", f"of {key} must be one of {', '.join(SETTING_TYPES)}")
        kind = SETTING_TYPES[type_name]
        default = raw.get("default")
        if default is not None and not isinstance(default, kind):
            raise read.fail(f"{where}.default", f"of {key} must be a {type_name}")
        choices = raw.get("choices", [])
        if not isinstance(choices, list) or any(not isinstance(c, kind) for c in choices):
            raise read.fail(f"{where}.choices", f"of {key} must be an array of {type_name} values")
        minimum = raw.get("min")
        if minimum is not None and (kind not in (int, float) or not isinstance(minimum, (int, float))):
            raise read.fail(f"{where}.min", f"of {key} must be a number, on an int or float setting")
        result.append(Setting(key, kind, default, str(raw.get("description", "")), tuple(choices), minimum))
    return result


def _menu(read: _Reader) -> list[MenuEntry]:
    entries = read.data.get("admin", {}).get("menu", [])
    result = []
    for index, raw in enumerate(entries):
        for name in ("category", "name", "endpoint"):
            if not isinstance(raw.get(name), str):
                raise read.fail(f"admin.menu[{index}].{name}", f'is missing; add {name} = "..."')
        result.append(MenuEntry(raw["category"], raw["name"], raw["endpoint"]))
    return result
