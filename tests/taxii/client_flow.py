"""A real TAXII 2.1 client against a running tracewire, over mutual TLS and
a bearer token: the OASIS taxii2-client library does discovery, API root,
collections, add objects (and reads the status), and polls the objects with
paging; the OASIS stix2-validator checks every object served.

Usage: python client_flow.py CONFIG.json, where CONFIG holds base_url,
ca, cert, key, client_id, mode ("flow" or "export") and per_request.
Prints one JSON summary line; exits 1 when a check fails.
"""
import json
import os
import sys

import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages


class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = "Bearer " + self.token
        return request


def token(config):
    response = requests.post(
        config["base_url"] + "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": config["client_id"]},
        cert=(config["cert"], config["key"]),
        verify=config["ca"],
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


# An OpenCTI-style export: an indicator and its observable, an actor, the
# relationship between them, and a malware object tracewire cannot map.
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
ADDRESS = "0x00000000000000000000000000000000c11e0001"
ENVELOPE = {
    "objects": [
        {
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--6f0a4c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
            "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
            "name": "Scam payout address", "pattern": "[cryptocurrency-wallet:value = '%s']" % ADDRESS,
            "pattern_type": "stix", "valid_from": "2026-11-20T10:00:00.000Z", "confidence": 70,
            "labels": ["scam"], "object_marking_refs": [GREEN],
        },
        {
            "type": "cryptocurrency-wallet", "spec_version": "2.1",
            "id": "cryptocurrency-wallet--0d7e2a44-5a8b-5c61-9f1e-2b3c4d5e6f70", "value": ADDRESS,
        },
        {
            "type": "threat-actor", "spec_version": "2.1",
            "id": "threat-actor--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
            "name": "Pig-butchering crew (client test)", "threat_actor_types": ["crime-syndicate"],
            "object_marking_refs": [RED],
        },
        {
            "type": "relationship", "spec_version": "2.1",
            "id": "relationship--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
            "relationship_type": "attributed-to",
            "source_ref": "indicator--6f0a4c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
            "target_ref": "threat-actor--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "object_marking_refs": [RED],
        },
        {
            "type": "malware", "spec_version": "2.1",
            "id": "malware--2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
            "name": "drainer kit", "is_family": True,
        },
    ]
}


def main():
    config = json.load(open(sys.argv[1]))
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment
    # override a session's own CA (taxii2-client sets session.verify): trust
    # the hub CA whatever the environment says.
    os.environ["REQUESTS_CA_BUNDLE"] = config["ca"]
    os.environ.pop("CURL_CA_BUNDLE", None)
    failures = []
    summary = {}
    server = Server(
        config["base_url"] + "/taxii2/",
        verify=config["ca"],
        cert=(config["cert"], config["key"]),
        auth=Bearer(token(config)),
    )
    summary["title"] = server.title
    root = server.default
    summary["api_root"] = root.title
    collections = {c.title: c for c in root.collections}
    summary["collections"] = sorted(collections)
    intel = next(c for c in root.collections if c.can_read and c.can_write) \
        if config["mode"] == "flow" else next(iter(c for c in root.collections if c.title.startswith("Intelligence")))

    if config["mode"] == "flow":
        status = intel.add_objects(json.dumps(ENVELOPE))
        summary["status"] = {
            "status": status.status,
            "total": status.total_count,
            "successes": status.success_count,
            "failures": [f["id"] for f in status.failures],
        }
        if status.status != "complete" or status.total_count != 5 or status.success_count != 4:
            failures.append("unexpected status: %r" % summary["status"])

    objects = []
    pages = 0
    for envelope in as_pages(intel.get_objects, per_request=config["per_request"],
                             **({"version": "all"} if config["mode"] == "export" else {})):
        pages += 1
        objects.extend(envelope.get("objects", []))
    summary["pages"] = pages
    summary["objects"] = len(objects)
    summary["types"] = sorted({o["type"] for o in objects})
    summary["record_ids"] = sorted({
        ext["record_id"]
        for o in objects
        for ext in o.get("extensions", {}).values()
        if isinstance(ext, dict) and "record_id" in ext
    })
    summary["values"] = sorted({o["value"] for o in objects if o["type"] == "cryptocurrency-wallet"})

    options = ValidationOptions(version="2.1")
    invalid = []
    warnings = 0
    for obj in objects:
        result = validate_instance(obj, options)
        warnings += len(result.warnings or [])
        if not result.is_valid:
            invalid.append({"id": obj.get("id"), "errors": [str(e) for e in result.errors]})
    summary["invalid"] = invalid[:20]
    summary["validator_warnings"] = warnings
    if invalid:
        failures.append("%d objects fail stix2-validator" % len(invalid))
    if config["mode"] == "flow" and ADDRESS not in summary["values"]:
        failures.append("the added address was not served back")
    summary["failures"] = failures
    print(json.dumps(summary))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
