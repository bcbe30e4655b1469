#!/usr/bin/env python3
"""Validates a MedTunnel FHIR export against an independent model of FHIR R4 (4.0.1).

Usage: fhir-validate.py EXPORT.json [EXPECTED_COUNT]

The model is the PyPI package fhir.resources 6.0.0 (FHIR 4.0.1, pydantic 1), installed by
tools/setup in its own virtual environment. Beyond the model's types and cardinalities it checks
the FHIR JSON rules a model may let pass (no nulls, no empty arrays) and the MedTunnel/BALP shape:
an agent with requestor, the gateway as observer, the entry entity with its leaf hash.
Exit status 0: valid; 1: invalid (reasons on stderr); 2: the package is missing.
"""
import base64
import hashlib
import json
import sys

try:
    import fhir.resources
    from fhir.resources.auditevent import AuditEvent
    from fhir.resources.bundle import Bundle
except ImportError as error:  # the test skips, loudly, on status 2
    print(f"fhir.resources is not installed: {error}", file=sys.stderr)
    sys.exit(2)


def json_rules(value, path, problems):
    if value is None:
        problems.append(f"{path}: null (FHIR JSON has no nulls)")
    elif isinstance(value, list):
        if not value:
            problems.append(f"{path}: empty array (FHIR JSON forbids them)")
        for i, item in enumerate(value):
            json_rules(item, f"{path}[{i}]", problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            json_rules(item, f"{path}.{key}", problems)


def medtunnel_rules(resource, where, problems):
    if resource.get("action") not in {"C", "R", "U", "D", "E"}:
        problems.append(f"{where}: action {resource.get('action')!r}")
    if resource.get("outcome") not in {"0", "4", "8", "12"}:
        problems.append(f"{where}: outcome {resource.get('outcome')!r}")
    kinds = [c["code"] for c in resource.get("subtype", []) if c.get("system") == "urn:medtunnel:audit-kind"]
    if len(kinds) != 1:
        problems.append(f"{where}: expected one urn:medtunnel:audit-kind subtype, got {kinds}")
    for agent in resource["agent"]:
        if agent["who"]["identifier"]["system"] != "urn:medtunnel:user":
            problems.append(f"{where}: agent.who not a urn:medtunnel:user identifier")
    if resource["source"]["observer"]["identifier"]["system"] != "urn:medtunnel:gateway":
        problems.append(f"{where}: source.observer is not the gateway")
    entries = [e for e in resource["entity"] if e["what"]["identifier"]["system"] == "urn:medtunnel:audit-entry"]
    if len(entries) != 1:
        problems.append(f"{where}: expected one audit-entry entity")
        return
    details = {d["type"]: d for d in entries[0].get("detail", [])}
    canonical = base64.b64decode(details["canonicalEntry"]["valueBase64Binary"])
    leaf = hashlib.sha256(b"\x00" + canonical).hexdigest()
    if leaf != details["leafHash"]["valueString"]:
        problems.append(f"{where}: leafHash is not SHA-256(0x00 || canonicalEntry)")
    index = int.from_bytes(canonical[1:9], "big")
    if str(index) != entries[0]["what"]["identifier"]["value"]:
        problems.append(f"{where}: entity index {entries[0]['what']['identifier']['value']} != canonical {index}")


def main():
    if fhir.resources.__fhir_version__ != "4.0.1":
        print(f"fhir.resources models FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1", file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], "rb") as f:
        data = json.load(f)
    problems = []
    json_rules(data, "Bundle", problems)
    try:
        Bundle.parse_obj(data)
    except Exception as error:  # pydantic's ValidationError lists every field at fault
        problems.append(f"Bundle: {error}")
    resources = [e["resource"] for e in data.get("entry", [])]
    for i, resource in enumerate(resources):
        where = f"entry[{i}] ({resource.get('id')})"
        try:
            AuditEvent.parse_obj(resource)
        except Exception as error:
            problems.append(f"{where}: {error}")
            continue
        medtunnel_rules(resource, where, problems)
    if len(sys.argv) > 2 and len(resources) != int(sys.argv[2]):
        problems.append(f"expected {sys.argv[2]} AuditEvents, found {len(resources)}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print(f"valid FHIR R4 Bundle ({data['type']}) of {len(resources)} AuditEvents")


main()
