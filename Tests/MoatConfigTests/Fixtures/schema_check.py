#!/usr/bin/env python3
"""Judge moat files with schemas/moat.schema.json, as an editor would.

Usage: schema_check.py SCHEMA FILE...
Prints one JSON object per line: {"file": ..., "valid": true|false, "errors": [...]}.
A file PyYAML cannot read counts as invalid (the schema never sees it).
Exit 3 with a message on stderr when PyYAML or jsonschema is missing.
"""
import json
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("schema_check.py: PyYAML is missing (apt install python3-yaml, or pip install pyyaml)\n")
    sys.exit(3)
try:
    import jsonschema
except ImportError:
    sys.stderr.write("schema_check.py: jsonschema is missing (apt install python3-jsonschema, or pip install jsonschema)\n")
    sys.exit(3)


def main(argv):
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                document = yaml.safe_load(f)
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            print(json.dumps({"file": path, "valid": False, "errors": ["unreadable YAML: %s" % error]}))
            continue
        errors = ["%s: %s" % ("/".join(map(str, e.absolute_path)), e.message) for e in validator.iter_errors(document)]
        print(json.dumps({"file": path, "valid": not errors, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
