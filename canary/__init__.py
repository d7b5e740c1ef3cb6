"""The shared canary suite: one module per canary or diagnostic.

Each module keeps a *conversation* (``converse``, an async script of turns
through :class:`harness.cp_sim.Conversation`) beside its *checks* (``check``, a
pure function of the recorded transcript). The harness drives the conversations;
pytest, with :mod:`canary.plugin`, judges the transcripts. A module declares
what it is with plain constants (see :mod:`canary.registry`), so adding a canary
is one file here plus its id in ``templates.toml``.

This package's ``__init__`` and :mod:`canary.registry` import only the standard
library: the noxfile validates ``templates.toml`` against the registry before
any dependency is installed.
"""
