"""Plug-ins a user could write, imported by name by runs in the tests (PYTHONPATH holds tests/)."""
