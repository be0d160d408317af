"""What tools/emulators.py gives firebase-tools: a launcher JAR it can `java -jar`, Java 21+ first
on PATH."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from tools import emulators


def _manifest(jar: Path) -> dict[str, str]:
    with zipfile.ZipFile(jar) as archive:
        text = archive.read("META-INF/MANIFEST.MF").decode()
    unfolded = text.replace("\r\n ", "")  # continuation lines start with one space
    return dict(line.split(": ", 1) for line in unfolded.split("\r\n") if line)


def test_the_launcher_names_the_main_class_and_puts_the_packaged_jar_on_the_class_path(
    tmp_path: Path,
) -> None:
    packaged = tmp_path / "a folder with a long name" / ("x" * 80) / "emulator.jar"
    launcher = emulators.write_launcher(packaged, tmp_path / "launcher.jar")
    manifest = _manifest(launcher)
    assert manifest["Main-Class"] == emulators.FIRESTORE_MAIN
    assert manifest["Class-Path"] == packaged.resolve().as_uri()


def test_manifest_lines_are_folded_at_72_bytes() -> None:
    folded = emulators._manifest_line("Class-Path: " + "y" * 200)
    lines = folded.removesuffix("\r\n").split("\r\n")
    assert all(len(line.encode()) <= 72 for line in lines)
    assert all(line.startswith(" ") for line in lines[1:])
    assert "".join(line.removeprefix(" ") for line in lines) == "Class-Path: " + "y" * 200


def test_an_unchanged_launcher_is_not_rewritten(tmp_path: Path) -> None:
    dest = tmp_path / "launcher.jar"
    emulators.write_launcher(tmp_path / "emulator.jar", dest)
    first = dest.stat().st_mtime_ns
    emulators.write_launcher(tmp_path / "emulator.jar", dest)
    assert dest.stat().st_mtime_ns == first
    emulators.write_launcher(tmp_path / "other.jar", dest)
    assert _manifest(dest)["Class-Path"].endswith("/other.jar")


def test_firebase_tools_gets_java_21_or_newer_first_on_the_path() -> None:
    env = emulators.environment({"PATH": "/usr/bin"})
    first = env["PATH"].split(":")[0]
    version = subprocess.run(
        [f"{first}/java", "-version"], capture_output=True, text=True, check=True
    ).stderr
    major = int(version.split('"')[1].split(".")[0])
    assert major >= emulators.MIN_JAVA
    assert env["PATH"].endswith(":/usr/bin")
    assert _manifest(Path(env["FIRESTORE_EMULATOR_BINARY_PATH"]))["Class-Path"].endswith(
        "/cloud-firestore-emulator.jar"
    )
