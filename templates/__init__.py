"""Build contexts of locally built templates (runtimes under test, not harness code)."""
