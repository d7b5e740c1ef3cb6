"""Where a runtime finds the scripted model: the variables it gets when ``model = "sim"``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

DUMMY_KEY = "canary-sim-dummy-key"
_EXPAND_RE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1", "ANONYMIZED_TELEMETRY": "false", "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false", "OTEL_SDK_DISABLED": "true", "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1", "AUTOGEN_TELEMETRY": "0", "CREWAI_TELEMETRY_OPT_OUT": "1",
}  # fmt: skip


def model_env(url: str, secrets: Iterable[str], extra: Mapping[str, str]) -> dict[str, str]:
    """The OpenAI, Anthropic and Gemini base URLs, dummy keys, telemetry off, and ``extra``.

    Args:
        url: The scripted model's base URL as the runtime reaches it.
        secrets: The template's declared secrets: each gets a dummy value.
        extra: The template's ``model_env``: ``${OPENAI_BASE_URL}`` and the other variables
            above expand (``${NAME:-default}`` to its default where the model sets no NAME).
    """
    env = {
        **TELEMETRY_OFF,
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_API_BASE": f"{url}/v1",
        "ANTHROPIC_BASE_URL": url,
        "GOOGLE_GEMINI_BASE_URL": url,  # google-genai ≥ 1.13, and ADK's Gemini through it
        **dict.fromkeys(secrets, DUMMY_KEY),
    }
    for name, value in extra.items():
        env[name] = _EXPAND_RE.sub(
            lambda m: env.get(m.group(1), m.group(2) if m.group(2) is not None else m.group(0)),
            value,
        )
    return env
