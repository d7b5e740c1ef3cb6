"""The shared canary suite: run by pytest (under xdist) against a runtime the harness started.

Workers get the runtime's URLs and ids from the JSON file named by
``CANARY_RUNTIME_INFO``; they never start or stop a runtime themselves.
"""
