"""The server image recipe: package list parsing and the hash that decides rebuilds (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.lab import image
from simpul.lab.netns import LabError


def test_package_list_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "pkgs.txt"
    f.write_text("# comment\nopenssh-server\n\n  sudo  # inline comment\n")
    assert image.read_packages(f) == ["openssh-server", "sudo"]


def test_package_list_rejects_two_names_on_one_line(tmp_path: Path) -> None:
    f = tmp_path / "pkgs.txt"
    f.write_text("openssh-server\nsudo less\n")
    with pytest.raises(LabError, match=r"pkgs.txt:2"):
        image.read_packages(f)


def test_shipped_package_list_has_what_deploys_and_drills_need() -> None:
    pkgs = set(image.read_packages())
    assert {"openssh-server", "python3", "sudo", "snmpd", "nftables", "postgresql-15",
            "lynis", "telnet", "rsh-client"} <= pkgs
    assert not pkgs & {"systemd", "systemd-sysv"}


def test_recipe_hash_changes_with_the_package_list(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "pkgs.txt"
    f.write_text("openssh-server\n")
    monkeypatch.setattr(image, "PACKAGES_FILE", f)
    monkeypatch.setattr(image.read_packages, "__defaults__", (f,))
    first = image.recipe_hash()
    f.write_text("openssh-server\n# a comment does not count\n")
    assert image.recipe_hash() == first
    f.write_text("openssh-server\nhtop\n")
    assert image.recipe_hash() != first


def test_recipe_hash_changes_with_the_build_script(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "build-image.sh"
    script.write_text(image.BUILD_SCRIPT.read_text())
    monkeypatch.setattr(image, "BUILD_SCRIPT", script)
    first = image.recipe_hash()
    script.write_text(script.read_text() + "\n# tweak\n")
    assert image.recipe_hash() != first


def test_repo_sits_next_to_the_image() -> None:
    assert image.repo_dir_for(Path("/c/debian12-abc")) == Path("/c/debian12-abc-repo")
