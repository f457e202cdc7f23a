#!/usr/bin/env python3
"""The JSON Schemas in docs/ agree with the files Atrium ships and builds.

Validates, with the python3-jsonschema validator (Draft 2020-12):
  - every bundle.json of the samples and of the test fixture bundles against
    docs/bundle.schema.json,
  - the sample's source app.json and the built one (baseline of .atb
    packages) against docs/app.schema.json,
  - the sample's remote config set against docs/config.schema.json,
  - the valid h5.json seeds of the fuzz corpus
    (tests/fuzz/corpus/h5_manifest/valid_*.json) against docs/h5.schema.json,
and checks that each schema still refuses a document it must refuse (an
unknown field; for h5, also an app field in a library and ids that are not
one lowercase host label), so the test cannot pass by accepting everything.

usage: validate_schemas.py <source-dir> <build-dir>
"""
import glob
import json
import os
import sys

import jsonschema


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main():
    src, build = sys.argv[1], sys.argv[2]
    schemas = {name: load(os.path.join(src, "docs", name + ".schema.json"))
               for name in ("bundle", "app", "config", "h5")}
    validators = {}
    for name, schema in schemas.items():
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validators[name] = cls(schema)

    documents = []
    for pattern in ("samples/**/bundle.json", "tests/fixture_bundles/*/bundle.json"):
        documents += [("bundle", p) for p in glob.glob(os.path.join(src, pattern), recursive=True)]
    documents.append(("app", os.path.join(src, "samples/wallet/app.json")))
    built_app = os.path.join(build, "samples/wallet/app.json")
    if os.path.exists(built_app):
        documents.append(("app", built_app))
    documents.append(("config", os.path.join(src, "samples/wallet/config/config.json")))
    h5_seeds = sorted(glob.glob(os.path.join(src, "tests/fuzz/corpus/h5_manifest/valid_*.json")))
    documents += [("h5", p) for p in h5_seeds]

    failures = 0
    for kind, path in sorted(documents):
        errors = sorted(validators[kind].iter_errors(load(path)), key=lambda e: list(e.path))
        for e in errors:
            failures += 1
            pointer = "/" + "/".join(str(p) for p in e.path)
            print(f"{path}:{pointer}: {e.message} ({kind}.schema.json)")
    print(f"{len(documents)} document(s) checked against the schemas, {failures} error(s)")

    # Each schema refuses an unknown top-level field (additionalProperties).
    for kind, path in (("bundle", documents[0][1]), ("app", os.path.join(src, "samples/wallet/app.json"))):
        doc = load(path)
        doc["no_such_field"] = 1
        if validators[kind].is_valid(doc):
            print(f"{kind}.schema.json accepts an unknown field: the check is vacuous")
            failures += 1
    for path in h5_seeds:
        doc = load(path)
        doc["no_such_field"] = 1
        if validators["h5"].is_valid(doc):
            print(f"h5.schema.json accepts an unknown field in {path}: the check is vacuous")
            failures += 1
    # A library has none of an app's fields (the schema's if/then).
    library = [load(p) for p in h5_seeds if load(p).get("kind") == "library"]
    if not library:
        print("no valid h5 library seed in tests/fuzz/corpus/h5_manifest")
        failures += 1
    for doc in library:
        doc["entry"] = "index.html"
        if validators["h5"].is_valid(doc):
            print("h5.schema.json accepts a library with an entry")
            failures += 1
    # An H5 app id is one lowercase DNS host label, 1 to 63 characters
    # ("help", "bill-history"); the schema agrees with IsH5AppId on both sides.
    h5_ids = {"help": True, "bill-history": True, "a1": True, "a" + "-" * 61 + "9": True,
              "com.wallet.help": False, "Help": False, "bill_history": False, "1help": False,
              "-help": False, "help-": False, "": False, "a" + "-" * 62 + "9": False}
    for seed in h5_seeds[:1]:
        for value, valid in h5_ids.items():
            doc = load(seed)
            doc["id"] = value
            if validators["h5"].is_valid(doc) != valid:
                print(f"h5.schema.json {'refuses' if valid else 'accepts'} the id {value!r}")
                failures += 1
    if len(documents) < 20:
        print(f"only {len(documents)} documents found under {src}")
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
