"""A scripted model endpoint: OpenAI, Anthropic and Gemini shapes, answering only from its request.

:class:`ModelServer` serves it; :func:`decide` is its oracle.
"""

from harness.model_sim.environment import model_env
from harness.model_sim.oracle import Conversation, Decision, Message, Tool, decide
from harness.model_sim.server import ModelServer

__all__ = ["Conversation", "Decision", "Message", "ModelServer", "Tool", "decide", "model_env"]
