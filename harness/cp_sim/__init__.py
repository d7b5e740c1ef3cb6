"""Control-plane simulator: the platform's side of the wire.

``A2AClient`` talks to a runtime the way the platform does; ``Conversation``
is what a canary's script drives it through, recording every step in a
``Transcript``; ``PlatformServer`` answers the runtime's calls back the way the
platform does and records them in the same transcript.
"""

from harness.cp_sim.a2a import (
    A2AClient,
    Exchange,
    Reply,
    file_part,
    message_envelope,
    parse_reply,
    reply_text,
    text_part,
    trim,
)
from harness.cp_sim.conversation import Conversation, FileAccess, new_context_id
from harness.cp_sim.platform import PlatformServer, search_memories
from harness.cp_sim.transcript import Line, Transcript

__all__ = [
    "A2AClient",
    "Conversation",
    "Exchange",
    "FileAccess",
    "Line",
    "PlatformServer",
    "Reply",
    "Transcript",
    "file_part",
    "message_envelope",
    "new_context_id",
    "parse_reply",
    "reply_text",
    "search_memories",
    "text_part",
    "trim",
]
