"""``canary-matrix onboard``: add a template to ``templates.toml``, comments and layout kept.

The new template is advisory, in the wave after the last one, so it shows in the
matrix without gating anything; promoting it is the one-line cascade edit. The
edited file is validated before it replaces the old one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tomlkit

from harness.config import Config, load
from harness.errors import ConfigError

SNIPPET = Path(__file__).resolve().parent.parent / "ci" / "template-repository.yml"


def onboard(
    config: Config,
    name: str,
    image: str,
    secrets: list[str],
    configs: Path | None = None,
) -> Config:
    """Add ``[templates.NAME]`` to the config's file and return the file reloaded.

    Raises:
        ConfigError: The name is taken, or the result would not validate (the file is
            then left as it was).
    """
    if name in config.templates:
        raise ConfigError(f"{config.path}: template {name!r}: already exists")
    document = tomlkit.parse(config.path.read_text(encoding="utf-8"))
    table = tomlkit.table()
    table.add("description", f"{name} (onboarded)")
    table.add("image", image)
    if secrets:
        table.add("secrets", secrets)
    if configs is not None:
        table.add("configs", os.path.relpath(configs.resolve(), config.root))
    table.add("gate", "advisory")
    table.add("wave", max((t.wave for t in config.templates.values()), default=-1) + 1)
    templates = document.get("templates")
    if templates is None:
        templates = tomlkit.table(is_super_table=True)
        document.add("templates", templates)
    templates[name] = table
    text = tomlkit.dumps(document)
    # Validate a copy first: a file that would not load is never written.
    with tempfile.NamedTemporaryFile(
        "w", suffix=".toml", dir=config.root, delete=False, encoding="utf-8"
    ) as candidate:
        candidate.write(text)
    try:
        load(candidate.name)
        Path(candidate.name).replace(config.path)
    except ConfigError as exc:  # name the user's file, not the scratch copy
        raise ConfigError(str(exc).replace(candidate.name, str(config.path))) from None
    finally:
        Path(candidate.name).unlink(missing_ok=True)
    return load(config.path)
