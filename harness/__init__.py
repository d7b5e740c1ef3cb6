"""canary-matrix: which agent runtime templates still hold a conversation?

The public surface is small: :func:`harness.config.load` reads ``templates.toml``,
:func:`harness.run.run` runs templates, :mod:`harness.report` renders the matrix,
and :func:`harness.cli.main` is the command line.
"""

__version__ = "0.1.0"
