"""`podplane image import|list` drive the image store from the command line."""

from __future__ import annotations

from podplane.cli import main

from .builders import docker_save


def test_import_then_list(tmp_path, capsys):
    archive = tmp_path / "hello.tar"
    docker_save(str(archive), [[("hello.txt", "file", "hi\n")]], ["example.com/hello:1.0"],
                config={"Cmd": ["cat", "/hello.txt"]})
    data = tmp_path / "data"
    assert main(["image", "import", str(archive), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "imported example.com/hello:1.0" in out and "1 layers" in out
    assert main(["image", "list", "--data-dir", str(data)]) == 0
    assert "example.com/hello:1.0" in capsys.readouterr().out


def test_import_of_a_broken_archive_says_so(tmp_path, capsys):
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar")
    assert main(["image", "import", str(broken), "--data-dir", str(tmp_path / "d")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
