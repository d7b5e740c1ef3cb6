"""Control-plane simulator: the platform's side of the wire.

``A2AClient`` talks to a runtime the way the platform does; ``PlatformServer``
answers the runtime's calls back the way the platform does and records them.
"""

from harness.cp_sim.a2a import A2AClient, Reply, file_part, parse_reply, reply_text, text_part, trim
from harness.cp_sim.platform import PlatformClient, PlatformServer, search_memories

__all__ = [
    "A2AClient",
    "PlatformClient",
    "PlatformServer",
    "Reply",
    "file_part",
    "parse_reply",
    "reply_text",
    "search_memories",
    "text_part",
    "trim",
]
