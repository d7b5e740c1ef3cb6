"""A hostile "runtime" that looks for anything of the harness it could use, then exits.

Standard library only; it never imports the harness. It reads every process's
environment and command line it can, follows each path it finds there and each
file under the temporary directory, and knocks on the platform simulator's
doors for harness actions. Anything that would grant it a harness action
(a token, a file naming one, an endpoint that answers) is printed as ``USABLE``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

HINTS = ("harness_token", "/_harness/", "x-canary-harness-token", "canary_runtime_info")


def _read(path: Path, limit: int = 1 << 16) -> str:
    try:
        return path.read_bytes()[:limit].decode("utf-8", "replace")
    except OSError:
        return ""


def _hinted(text: str) -> bool:
    lowered = text.lower()
    return any(hint in lowered for hint in HINTS)


def from_processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        environ = _read(entry / "environ").split("\0")
        cmdline = _read(entry / "cmdline").split("\0")
        for item in environ + cmdline:
            value = item.partition("=")[2] if "=" in item else item
            if _hinted(item):
                found.append(f"pid {entry.name}: {item[:80]}")
            path = Path(value)
            if path == Path(__file__):  # its own source names what it looks for
                continue
            if value.startswith("/") and path.is_file() and _hinted(_read(path)):
                found.append(f"pid {entry.name} points to {path}")
    return found


def from_temporary_files() -> list[str]:
    found = []
    for path in Path(tempfile.gettempdir()).glob("canary-*/**/*"):
        if path.is_file() and _hinted(_read(path)):
            found.append(f"file {path}")
    return found


def from_platform() -> list[str]:
    found = []
    base = os.environ.get("PLATFORM_URL", "")
    for method, path in (("GET", "/_harness/calls"), ("POST", "/_harness/snapshot")):
        body = json.dumps({"path": "/etc/passwd"}).encode() if method == "POST" else None
        request = urllib.request.Request(base + path, data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                found.append(f"{method} {path} answered {response.status}")
        except urllib.error.HTTPError as exc:
            if exc.code not in (404, 405):
                found.append(f"{method} {path} answered {exc.code}")
        except OSError:
            pass
    return found


def main() -> int:
    visible = sum(1 for entry in Path("/proc").iterdir() if entry.name.isdigit())
    print(f"snoop: processes visible: {visible}", flush=True)
    findings = from_processes() + from_temporary_files() + from_platform()
    for finding in findings:
        print(f"USABLE: {finding}")
    print(f"snoop: searched processes, {tempfile.gettempdir()} and the platform", flush=True)
    return 3


if __name__ == "__main__":
    sys.exit(main())
