"""The types are the schema: run.schema.json is generated from the record's types, a record written
before the types became the schema still loads and is written back byte for byte, and the schema
the types give agrees with what they read."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from qpbench.record import parse
from qpbench.results import RESULT_TYPES
from qpbench.schema.codec import dump
from qpbench.schema.generate import COMMAND, SCHEMA_PATH, record_schema, text

# A default run's record (ResNet-50, every variant, AMD EPYC), written by qpbench before its types
# were the schema: what users' results/ and baselines/ folders hold.
OLD_RECORD = Path(__file__).parent / "fixtures" / "record_default_a9d6158.json.gz"


@pytest.fixture(scope="module")
def old_record() -> dict:
    return json.loads(gzip.decompress(OLD_RECORD.read_bytes()))


def test_the_committed_schema_is_the_one_the_types_give():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == text(), (
        f"qpbench/schema/run.schema.json is stale: run `{COMMAND}` and commit it")


def test_a_record_written_before_still_loads_and_is_written_back_unchanged(old_record):
    record = parse(old_record, OLD_RECORD.name)
    assert {r.kind for r in record.results} == set(RESULT_TYPES) - {"worker_failure"}
    assert record.verdict.config.targets.latency_p95_ms == old_record["verdict"]["targets"]["latency_p95_ms"]
    # the same keys in the same order, the same numbers: the file a run writes has not changed (a
    # result's summary is recomputed from its samples on writing, by today's statistics)
    assert json.dumps(without_summaries(dump(record))) == json.dumps(without_summaries(old_record))


def without_summaries(record: dict) -> dict:
    return {**record, "results": [{k: v for k, v in r.items() if k != "summary"} for r in record["results"]]}


def test_the_generated_schema_accepts_the_old_record_and_refuses_what_the_types_refuse(old_record):
    import jsonschema

    validator = jsonschema.Draft202012Validator(record_schema())
    jsonschema.Draft202012Validator.check_schema(record_schema())
    assert list(validator.iter_errors(old_record)) == []
    bad = {**old_record, "surprise": 1}
    assert [e.message for e in validator.iter_errors(bad)] == [
        "Additional properties are not allowed ('surprise' was unexpected)"]
