"""The run record's JSON, from its types: ``codec`` writes and reads them with pydantic, ``shape``
declares where the JSON departs from a type's fields, and ``python -m qpbench.schema`` writes
``run.schema.json`` from them (a test fails when the committed copy is stale)."""
