"""MISP's own code against a running tracewire, over mutual TLS and a
bearer token.

  build   CONFIG  builds MISP events with pymisp (every cryptocurrency
                  attribute type and object MISP has, every TLP tag, a
                  wallet, an attribution, a sighting, one non-crypto
                  attribute), converts them with misp-stix's MISP -> STIX 2.1
                  converter and POSTs them over TAXII (taxii2-client), twice;
                  writes the events and the expected records to CONFIG["dir"].
  export  CONFIG  fetches GET /v1/records/export?format=misp, loads it into
                  pymisp, converts it with misp-stix and compares it with the
                  events "build" wrote (addresses on their chains, TLP, wallet
                  membership, attribution, sightings).

CONFIG holds base_url, ca, cert, key, client_id and dir. Prints one JSON
summary line; exits 1 when a check fails.
"""
import json
import os
import sys

import requests
from misp_stix_converter import MISPtoSTIX21Parser
from pymisp import MISPEvent, MISPObject, MISPOrganisation, MISPSighting
from taxii2client.v21 import Server

# Fixed times, so converting an event again gives the same STIX versions.
T0 = 1764590000

P2PKH = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
TAPROOT = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
LEGACY = "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX"
WALLET_MEMBER = "bc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq9e75rs"
XMR = "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL"
DASH = "XnPFsRWTaSgiVauosEwQ6dEitGYXgwznz2"
ETH = "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1"
TRX = "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"
LTC = "LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb"
USDT_TRON = "TFdTr9C3BqQrzKBXqSxJfAZFTh8UwBAfSg"


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


def organisation(name, uuid):
    org = MISPOrganisation()
    org.name = name
    org.uuid = uuid
    return org


def attribute(event, misp_type, value, tlp, uuid, comment=""):
    made = event.add_attribute(misp_type, value, comment=comment, uuid=uuid, timestamp=T0)
    if tlp:
        made.add_tag(tlp)
    return made


def coin_address(event, uuid, relation, value, symbol, tlp):
    obj = MISPObject("coin-address", standalone=False)
    obj.uuid = uuid
    obj.timestamp = T0
    made = obj.add_attribute(relation, value, uuid=uuid[:-4] + "a%03d" % len(event.objects), timestamp=T0)
    made.add_tag(tlp)
    if symbol:
        obj.add_attribute("symbol", symbol, uuid=uuid[:-4] + "b%03d" % len(event.objects), timestamp=T0)
    event.add_object(obj)
    return obj


def events():
    """Two events: a case (TLP:AMBER event tag, attributes with their own
    tags), and an event without any tag (its attribute is kept as RED)."""
    case = MISPEvent()
    case.uuid = "5e7f3a10-0000-4000-8000-000000000001"
    case.info = "Ransomware payouts, case 7"
    case.timestamp = T0
    case.Orgc = organisation("Forensics Ltd", "55f6ea5e-2c60-40e5-964f-47a8950d210f")
    case.add_tag("tlp:amber")
    expected = []

    def expect(chain, address, tlp):
        expected.append({"chain": chain, "address": address, "tlp": tlp})

    # Every btc address form, every TLP tag MISP uses.
    attribute(case, "btc", P2PKH, "tlp:red", "5e7f3a10-0000-4000-8000-0000000000a1", "genesis")
    expect("btc", P2PKH, "red")
    attribute(case, "btc", P2SH, "tlp:clear", "5e7f3a10-0000-4000-8000-0000000000a2")
    expect("btc", P2SH, "clear")
    attribute(case, "btc", BECH32, "tlp:green", "5e7f3a10-0000-4000-8000-0000000000a3")
    expect("btc", BECH32, "green")
    attribute(case, "btc", TAPROOT, "tlp:amber+strict", "5e7f3a10-0000-4000-8000-0000000000a4")
    expect("btc", TAPROOT, "amber+strict")
    attribute(case, "btc", LEGACY, "tlp:white", "5e7f3a10-0000-4000-8000-0000000000a5")
    expect("btc", LEGACY, "clear")
    # No tag of its own: the event's TLP:AMBER.
    attribute(case, "xmr", XMR, None, "5e7f3a10-0000-4000-8000-0000000000a6")
    expect("xmr", XMR, "amber")
    attribute(case, "dash", DASH, "tlp:amber", "5e7f3a10-0000-4000-8000-0000000000a7")
    expect("dash", DASH, "amber")
    # Not an address: refused with the reason.
    attribute(case, "ip-src", "203.0.113.7", "tlp:green", "5e7f3a10-0000-4000-8000-0000000000a8")

    wallet = MISPObject("btc-wallet", standalone=False)
    wallet.uuid = "5e7f3a10-0000-4000-8000-0000000000b1"
    wallet.timestamp = T0
    wallet.comment = "Cluster 7"
    wallet.add_attribute("wallet-address", WALLET_MEMBER, uuid="5e7f3a10-0000-4000-8000-0000000000b2",
                         timestamp=T0).add_tag("tlp:amber")
    case.add_object(wallet)
    expect("btc", WALLET_MEMBER, "amber")

    coins = [
        coin_address(case, "5e7f3a10-0000-4000-8000-0000000000c1", "address-crypto", ETH, "ETH", "tlp:green"),
        coin_address(case, "5e7f3a10-0000-4000-8000-0000000000c2", "address-crypto", TRX, "TRX", "tlp:amber"),
        coin_address(case, "5e7f3a10-0000-4000-8000-0000000000c3", "address-crypto", LTC, "LTC", "tlp:red"),
        coin_address(case, "5e7f3a10-0000-4000-8000-0000000000c4", "address-crypto", USDT_TRON, "USDT", "tlp:amber"),
        coin_address(case, "5e7f3a10-0000-4000-8000-0000000000c5", "address", BECH32, "BTC", "tlp:green"),
    ]
    expect("eth", ETH.lower(), "green")
    expect("trx", TRX, "amber")
    expect("ltc", LTC, "red")
    expect("trx", USDT_TRON, "amber")
    # The fifth names an address the event already has: the same record.

    hydra = MISPObject("organization", standalone=False)
    hydra.uuid = "5e7f3a10-0000-4000-8000-0000000000d1"
    hydra.timestamp = T0
    hydra.add_attribute("name", "Hydra", uuid="5e7f3a10-0000-4000-8000-0000000000d2", timestamp=T0).add_tag("tlp:amber")
    hydra.add_attribute("type-of-organization", "darknet_market", uuid="5e7f3a10-0000-4000-8000-0000000000d3",
                        timestamp=T0)
    case.add_object(hydra)

    # The ETH address is in the wallet; the wallet is Hydra's.
    coins[0].add_reference(wallet.uuid, "member-of", uuid="5e7f3a10-0000-4000-8000-0000000000e1", timestamp=T0)
    wallet.add_reference(hydra.uuid, "attributed-to", uuid="5e7f3a10-0000-4000-8000-0000000000e2", timestamp=T0)

    sighting = MISPSighting()
    sighting.from_dict(type="0", date_sighting=T0 + 60, source="deposit",
                       uuid="5e7f3a10-0000-4000-8000-0000000000f1",
                       Organisation={"name": "Safe Harbor", "uuid": "5e7f3a10-0000-4000-8000-0000000000f2"})
    case.attributes[0].sightings.append(sighting)

    untagged = MISPEvent()
    untagged.uuid = "5e7f3a10-0000-4000-8000-000000000002"
    untagged.info = "Unmarked tip"
    untagged.timestamp = T0
    untagged.Orgc = organisation("Forensics Ltd", "55f6ea5e-2c60-40e5-964f-47a8950d210f")
    attribute(untagged, "dash", "Xs3vzQmNvAxRa3Xo8XzQqUb3BMgb9EogF4", None, "5e7f3a10-0000-4000-8000-0000000000a9")
    expected.append({"chain": "dash", "address": "Xs3vzQmNvAxRa3Xo8XzQqUb3BMgb9EogF4", "tlp": "red"})
    return [case, untagged], expected


def with_times(event):
    """The event as MISP JSON with every timestamp set (pymisp leaves out
    the timestamps of what was edited after it was made, such as tagged
    attributes), so converting it again gives the same STIX versions."""
    data = json.loads(event.to_json())

    def fill(item):
        item.setdefault("timestamp", str(T0))
        for attribute in item.get("Attribute", []):
            fill(attribute)
        for obj in item.get("Object", []):
            fill(obj)
        for reference in item.get("ObjectReference", []):
            reference.setdefault("timestamp", str(T0))

    fill(data)
    return data


def convert(event):
    parser = MISPtoSTIX21Parser()
    parser.parse_misp_event(event if isinstance(event, dict) else with_times(event))
    bundle = json.loads(parser.bundle.serialize())
    warnings = [w for ws in parser.warnings.values() for w in ws]
    errors = [e for es in parser.errors.values() for e in es]
    return bundle, warnings, errors


def status_summary(status):
    return {
        "total": status.total_count,
        "successes": status.success_count,
        "failures": [{"id": f["id"], "message": f.get("message")} for f in status.failures],
        "messages": [s.get("message") for s in status.successes],
    }


def build(config, failures):
    made, expected = events()
    intel = collection(config)
    posts = []
    warnings = []
    for event in made:
        bundle, event_warnings, errors = convert(event)
        warnings.extend(event_warnings)
        if errors:
            failures.append("misp-stix errors: %r" % errors)
        first = intel.add_objects(json.dumps({"objects": bundle["objects"]}))
        again = intel.add_objects(json.dumps({"objects": bundle["objects"]}))
        posts.append({"first": status_summary(first), "again": status_summary(again),
                      "types": sorted({o["type"] for o in bundle["objects"]})})
    with open(os.path.join(config["dir"], "events.json"), "w") as f:
        json.dump([with_times(e) for e in made], f)
    # A MISP feed directory of the same events, for `tracewire import`.
    feed = os.path.join(config["dir"], "feed")
    os.makedirs(feed, exist_ok=True)
    manifest = {}
    for event in made:
        data = with_times(event)
        with open(os.path.join(feed, event.uuid + ".json"), "w") as f:
            json.dump({"Event": data}, f)
        manifest[event.uuid] = {"info": event.info, "timestamp": str(T0), "Orgc": data.get("Orgc")}
    with open(os.path.join(feed, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return {"posts": posts, "expected": expected, "misp_stix_warnings": warnings}


def collection(config):
    os.environ["REQUESTS_CA_BUNDLE"] = config["ca"]
    os.environ.pop("CURL_CA_BUNDLE", None)
    server = Server(config["base_url"] + "/taxii2/", verify=config["ca"],
                    cert=(config["cert"], config["key"]), auth=Bearer(token(config)))
    return next(c for c in server.default.collections if c.can_write)


def crypto_of(event):
    """Every address of a MISP event: (chain, value) -> TLP tag names, from
    attributes and coin-address / btc-wallet objects."""
    found = {}
    by_uuid = {}

    def tlps(attr):
        return sorted(t.name for t in attr.tags if t.name.startswith("tlp:"))

    for attr in event.attributes:
        if attr.type in ("btc", "xmr", "dash"):
            found[(attr.type, attr.value)] = tlps(attr) or sorted(t.name for t in event.tags)
            by_uuid[attr.uuid] = (attr.type, attr.value)
    for obj in event.objects:
        values = {a.object_relation: a for a in obj.attributes}
        if obj.name == "coin-address":
            symbol = values.get("symbol")
            for relation, chain in (("address", "btc"), ("address-xmr", "xmr"), ("address-crypto", None)):
                if relation in values:
                    attr = values[relation]
                    name = (symbol.value if symbol else chain or "?").lower()
                    name = {"usdt": "trx"}.get(name, name)
                    found[(name, attr.value)] = tlps(attr)
                    by_uuid[obj.uuid] = (name, attr.value)
                    break
        elif obj.name == "btc-wallet":
            for attr in obj.attributes:
                if attr.object_relation == "wallet-address":
                    found[("btc", attr.value)] = tlps(attr)
    return found, by_uuid


def normalize(address):
    chain, value = address
    return (chain, value.lower() if value.startswith("0x") else value)


def export(config, failures):
    response = requests.get(
        config["base_url"] + "/v1/records/export?format=misp",
        headers={"Authorization": "Bearer " + token(config)},
        cert=(config["cert"], config["key"]), verify=config["ca"], timeout=60)
    response.raise_for_status()
    exported = MISPEvent()
    exported.load(response.text)
    bundle, warnings, errors = convert(json.loads(response.text)["Event"])
    if errors:
        failures.append("misp-stix errors on the export: %r" % errors)
    # misp-stix has no STIX mapping for MISP's cryptocurrency content: it
    # warns "not mapped" for every btc/xmr/dash attribute and coin-address
    # or btc-wallet object, MISP's own events included. Any other warning
    # is about something the export got wrong.
    crypto_notes = {"MISP Attribute type btc not mapped.", "MISP Attribute type xmr not mapped.",
                    "MISP Attribute type dash not mapped.", "MISP Object name coin-address not mapped.",
                    "MISP Object name btc-wallet not mapped.", "MISP Object name infrastructure not mapped."}
    other_warnings = [w for w in warnings if w not in crypto_notes]
    if other_warnings:
        failures.append("misp-stix warnings: %r" % other_warnings)
    found, by_uuid = crypto_of(exported)
    objects = {o.uuid: o for o in exported.objects}
    references = []
    for obj in exported.objects:
        for ref in obj.references:
            target = objects.get(ref.referenced_uuid)
            references.append({
                "from": obj.name, "from_address": list(by_uuid.get(obj.uuid, ("", ""))),
                "relation": ref.relationship_type,
                "to": target.name if target else "attribute",
                "to_name": next((a.value for a in target.attributes if a.object_relation == "name"), None)
                if target else None,
            })
    sightings = [
        {"value": a.value, "source": s.source, "org": (s.Organisation or {}).get("name") if hasattr(s, "Organisation") else None}
        for a in exported.attributes for s in a.sightings
    ] + [
        {"value": a.value, "source": s.source, "org": None}
        for o in exported.objects for a in o.attributes for s in a.sightings
    ]
    summary = {
        "attribute_types": sorted({a.type for a in exported.attributes}),
        "object_names": sorted({o.name for o in exported.objects}),
        "addresses": sorted([[c, v, t] for (c, v), t in found.items()]),
        "references": references,
        "sightings": sightings,
        "stix_types": sorted({o["type"] for o in bundle["objects"]}),
        "misp_stix_warnings": sorted(set(warnings)),
        "tags": sorted({t.name for a in exported.attributes for t in a.tags}),
    }
    events_path = os.path.join(config["dir"], "events.json")
    if config.get("round_trip") and os.path.exists(events_path):
        lost = []
        for data in json.load(open(events_path)):
            original = MISPEvent()
            original.from_dict(**data)
            before, _ = crypto_of(original)
            after = {normalize(k): v for k, v in found.items()}
            for address, tags in before.items():
                key = normalize(address)
                if key not in after:
                    lost.append({"address": list(address), "why": "missing"})
                    continue
                want = [("tlp:clear" if t == "tlp:white" else t) for t in (tags or ["tlp:red"])]
                if after[key] != sorted(want):
                    lost.append({"address": list(address), "why": "tlp %r became %r" % (want, after[key])})
        summary["lost"] = lost
        if lost:
            failures.append("the round trip lost: %r" % lost)
    return summary


def main():
    config = json.load(open(sys.argv[2]))
    failures = []
    summary = build(config, failures) if sys.argv[1] == "build" else export(config, failures)
    summary["failures"] = failures
    print(json.dumps(summary))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
