"""``python -m qpbench.schema``: write qpbench/schema/run.schema.json from the record's types."""

from qpbench.schema.generate import SCHEMA_PATH, write

if __name__ == "__main__":
    write()
    print(f"wrote {SCHEMA_PATH}")
