"""The zh-hans catalogue is complete, its compiled file matches it, and covers every string in the code."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
PO_FILE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
SOURCE_DIRS = ["config", "accounts", "production", "orders", "integrations", "dashboards", "templates"]


def catalogue() -> polib.POFile:
    return polib.pofile(str(PO_FILE))


def test_every_entry_of_the_chinese_catalogue_is_translated_and_not_fuzzy():
    po = catalogue()
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []


def test_the_compiled_catalogue_matches_the_source_catalogue():
    # The .mo is committed so machines without GNU gettext serve Chinese; it must not lag behind the .po.
    with translation.override("zh-hans"):
        for entry in catalogue():
            if entry.msgid_plural or entry.msgctxt or entry.obsolete:
                continue
            assert translation.gettext(entry.msgid) == entry.msgstr, entry.msgid


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed (CI installs it)")
def test_every_translatable_string_in_the_code_is_in_the_catalogue(tmp_path):
    for name in [*SOURCE_DIRS, "manage.py"]:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
        else:
            shutil.copy(source, tmp_path / name)
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "zh_Hans", "--no-obsolete"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)},
    )
    fresh = polib.pofile(str(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    missing = sorted(entry.msgid for entry in fresh if not entry.translated())
    assert missing == [], f"run `make messages` and translate: {missing}"
