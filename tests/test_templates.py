"""Email templates are not trusted code: they render sandboxed, and cannot read outside their
folder. An edited copy of the bundled templates still works."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import SMTP_CANARY, run_cli

from generect_reports.theme import bundled_template_dir

EMAIL = [
    "email",
    "--sample",
    "--month",
    "2026-10",
    "--to",
    "finance@example.com",
    "--from",
    "reports@example.com",
]


def _folder(tmp_path: Path, text_template: str | None = None) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(bundled_template_dir(), folder, ignore=shutil.ignore_patterns("__*"))
    if text_template is not None:
        (folder / "email.txt.j2").write_text(text_template)
    return folder


def _send(tmp_path: Path, folder: Path):
    eml = tmp_path / "out.eml"
    env = {"GENERECT_SMTP_PASSWORD": SMTP_CANARY, "GENERECT_API_TOKEN": "tok-canary-31415"}
    out = run_cli(*EMAIL, "--template", str(folder), "--dry-run", str(eml), env=env, cwd=tmp_path)
    return out, eml


@pytest.mark.parametrize(
    "payload",
    [
        "{{ lipsum.__globals__['os'].environ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ r.__class__.__mro__ }}",
        "{% set x = r.notes.append('injected') %}{{ x }}",
    ],
)
def test_a_template_cannot_run_code_or_read_secrets(tmp_path, payload):
    out, eml = _send(tmp_path, _folder(tmp_path, "Hello {{ r.month }}\n" + payload + "\n"))
    assert out.returncode == 2 and out.stderr.startswith("error: email template error")
    assert len(out.stderr.splitlines()) == 1
    everything = out.stdout + out.stderr
    assert SMTP_CANARY not in everything and "tok-canary-31415" not in everything
    assert "uid=" not in everything and not eml.exists()


def test_an_include_cannot_follow_a_link_out_of_the_folder(tmp_path):
    folder = _folder(tmp_path, 'Hello\n{% include "footer.txt" %}\n')
    (folder / "footer.txt").symlink_to("/etc/passwd")
    out, eml = _send(tmp_path, folder)
    assert out.returncode == 2 and "outside the template folder" in out.stderr
    assert "root:" not in out.stdout + out.stderr and not eml.exists()


def test_a_template_that_is_a_link_out_of_the_folder_is_refused(tmp_path):
    folder = _folder(tmp_path)
    (folder / "email.txt.j2").unlink()
    (folder / "email.txt.j2").symlink_to("/etc/hostname")
    out, eml = _send(tmp_path, folder)
    assert out.returncode == 2 and "outside the template folder" in out.stderr
    assert not eml.exists()


def test_an_include_by_relative_path_out_of_the_folder_is_refused(tmp_path):
    out, eml = _send(tmp_path, _folder(tmp_path, '{% include "../../../../etc/passwd" %}\n'))
    assert out.returncode == 2 and "root:" not in out.stdout + out.stderr
    assert not eml.exists()


def test_an_edited_copy_still_renders(tmp_path):
    folder = _folder(tmp_path)
    text = (folder / "email.txt.j2").read_text()
    (folder / "email.txt.j2").write_text("Edited by the finance team.\n" + text)
    out, eml = _send(tmp_path, folder)
    assert out.returncode == 0, out.stderr
    assert b"Edited by the finance team." in eml.read_bytes()
