"""plugin.toml: read and validated at load time; a broken field stops loading with file, field and fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import crm_plugin
from crm_plugin._version import bundle_path
from crm_plugin.core.manifest import ManifestError, load_manifest

MANIFEST = bundle_path("plugin.toml")


def write_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = MANIFEST.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in plugin.toml"
    path = tmp_path / "plugin.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_manifest_is_read_with_its_settings_and_menu() -> None:
    manifest = load_manifest()
    assert manifest.slug == "crm_plugin"
    assert manifest.version == crm_plugin.__version__
    assert manifest.defaults()["CRM_PLUGIN_URL_PREFIX"] == "/crm-plugin"
    assert manifest.defaults()["CRM_PLUGIN_TRUST_TYPED_IDENTITY"] is False
    assert all(entry.category == "Боты, Пользователи" for entry in manifest.admin_menu)
    assert (manifest.migrations_path / "env.py").is_file()
    assert set(manifest.description) == {"ru", "en"}


def test_package_version_comes_from_the_manifest() -> None:
    with MANIFEST.open("rb") as fh:
        assert tomllib.load(fh)["plugin"]["version"] == crm_plugin.__version__


@pytest.mark.parametrize(
    ("old", "new", "field", "fix"),
    [
        ('version = "0.1.0"\n', "", "plugin.version", "add version"),
        ('slug = "crm_plugin"', "slug = 7", "plugin.slug", "must be a non-empty str"),
        ('python = ">=3.11"', 'python = ">=9.0"', "requires.python", "install a matching python"),
        ('flask = ">=3.0"', 'flask = "three"', "requires.flask", "not a version range"),
        ('path = "migrations"', 'path = "nowhere"', "migrations.path", "has no env.py"),
        ('type = "bool"', 'type = "boolean"', "settings[7].type", "must be one of"),
        ('key = "CRM_PLUGIN_LANGUAGE"', 'key = "LANGUAGE"', "settings[8].key", "starting with CRM_PLUGIN_"),
        ("default = 1048576", 'default = "big"', "settings[6].default", "must be a int"),
    ],
)
def test_broken_field_names_file_field_and_fix(tmp_path: Path, old: str, new: str, field: str, fix: str) -> None:
    path = write_variant(tmp_path, old, new)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    message = str(caught.value)
    assert str(path) in message and f"'{field}'" in message and fix in message
    assert "\n" not in message


def test_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="file is missing"):
        load_manifest(tmp_path / "plugin.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[plugin\nname = 1", encoding="utf-8")
    with pytest.raises(ManifestError, match="not valid TOML"):
        load_manifest(broken)


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [s.key for s in load_manifest().settings if f"`{s.key}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"
