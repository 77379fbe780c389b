"""Validates JSON documents against rotor's JSON Schema with Python's jsonschema
(draft 2020-12).

    validate_schema.py SCHEMA DOC...    prints one line per invalid document; exit 1 if any
"""

import json
import sys

from jsonschema import Draft202012Validator


def main():
    schema_path, *docs = sys.argv[1:]
    with open(schema_path) as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    bad = 0
    for path in docs:
        with open(path) as f:
            doc = json.load(f)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            bad += 1
            for e in errors[:3]:
                print(f"{path}: {'/'.join(map(str, e.path))}: {e.message[:300]}")
    print(f"{len(docs) - bad} valid, {bad} invalid")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
