"""The `dbt` namespace of dbt's Jinja context, as far as our macros use it, for sqlfluff.

sqlfluff's jinja templater renders the models without dbt (no database, no manifest); its dbt
builtins cover `ref`, `source`, `var`, `this`, `is_incremental` but not the `dbt.*` macros.
"""
# ruff: noqa: INP001 - a module of sqlfluff's `library_path`, not a package


def string_literal(value: object) -> str:
    """`dbt.string_literal`: the value as a SQL string literal (lint-time only)."""
    return f"'{value}'"
