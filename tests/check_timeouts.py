#!/usr/bin/python3
"""Fails when a CTest test has no TIMEOUT: every test that starts mpirun must end, hang or not.
Reads `ctest --show-only=json-v1` on stdin."""
import json
import sys

tests = json.load(sys.stdin)["tests"]
missing = [t["name"] for t in tests if not any(p["name"] == "TIMEOUT" for p in t.get("properties", []))]
if missing:
    sys.exit("tests without a TIMEOUT: " + ", ".join(missing))
print(f"all {len(tests)} tests have a TIMEOUT")
