#!/usr/bin/env python3
"""Private screening against tracewire without tracewire's code.

The worked example of docs/private-screening.md: Python's standard library
only. It canonicalizes Ethereum/EVM, TRON and Bitcoin addresses into
tracewire's link keys, hashes them, sends only 20-bit prefixes (padded with
decoys to 64), and matches the answer locally.

    python3 private_screen.py --url https://localhost:8443 \
        --ca ca.pem --cert org.pem --key org-key.pem --client-id my-client \
        eth:0x52908400098527886E0F7030069857D2E4169EE7 btc:bc1q...

Prints one JSON object per address; exit status 1 when anything matched.
"""
import argparse
import hashlib
import http.client
import json
import secrets
import ssl
import sys
import urllib.parse

LABEL = b"tracewire-private-screening-v1:"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
EVM_CHAINS = {"eth", "etc", "bsc", "polygon", "arb", "op", "base", "avax"}


def base58check(text):
    number = 0
    for char in text:
        number = number * 58 + B58.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\0" * (len(text) - len(text.lstrip("1"))) + raw
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        raise ValueError("bad base58check checksum")
    return payload


def link_key(chain, address):
    """tracewire's link key for the three families this example knows."""
    if chain in EVM_CHAINS:
        body = address.lower().removeprefix("0x")
        if len(body) != 40 or any(c not in "0123456789abcdef" for c in body):
            raise ValueError("not a 20-byte hex address")
        return "evm:" + body
    if chain == "trx":
        payload = base58check(address)
        if len(payload) != 21 or payload[0] != 0x41:
            raise ValueError("not a TRON address")
        return "evm:" + payload[1:].hex()
    if chain == "btc":
        if address.lower().startswith("bc1"):
            return "btc:" + address.lower()  # bech32: one case (checksum not checked here)
        base58check(address)
        return "btc:" + address  # base58: as typed
    raise ValueError(f"this example does not canonicalize {chain!r}")


def key_hash(key):
    return hashlib.sha256(LABEL + key.encode()).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    for name in ("url", "ca", "cert", "key", "client-id"):
        parser.add_argument("--" + name, required=True)
    parser.add_argument("addresses", nargs="+", help="chain:address")
    args = parser.parse_args()

    hashes = {}
    for item in args.addresses:
        chain, address = item.split(":", 1)
        hashes[item] = key_hash(link_key(chain, address))
    real = {h[:5] for h in hashes.values()}
    prefixes = set(real)
    while len(prefixes) < max(64, 1 << (len(real) - 1).bit_length()):
        prefixes.add(secrets.token_hex(3)[:5])  # decoys (keep a seed to reuse them nightly)

    context = ssl.create_default_context(cafile=args.ca)
    context.load_cert_chain(args.cert, args.key)
    host = urllib.parse.urlsplit(args.url)
    connection = http.client.HTTPSConnection(host.hostname, host.port or 443, context=context)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": args.client_id})
    connection.request("POST", "/v1/oauth/token", form,
                       {"Content-Type": "application/x-www-form-urlencoded"})
    token = json.loads(connection.getresponse().read())["access_token"]
    body = json.dumps({"version": 1, "prefixes": sorted(prefixes)})
    connection.request("POST", "/v1/screen/private", body,
                       {"Content-Type": "application/json", "Authorization": "Bearer " + token})
    response = connection.getresponse()
    answer = json.loads(response.read())
    if response.status != 200:
        sys.exit(f"refused: {answer}")
    entries = {entry["hash"]: entry for entry in answer["entries"]}

    matched = False
    for item, digest in hashes.items():
        entry = entries.get(digest)
        matched |= bool(entry and entry["matched"])
        print(json.dumps({"address": item, "matched": bool(entry and entry["matched"]),
                          "records": entry["records"] if entry else [],
                          "categories": entry["categories"] if entry else [],
                          "sources": entry["sources"] if entry else []}))
    sys.exit(1 if matched else 0)


if __name__ == "__main__":
    main()
