"""Verifies webhook deliveries with the Standard Webhooks reference library.

Reads a JSON file: {"deliveries": [{"id", "timestamp", "signature",
"body_b64", "secrets": [whsec_...]}]}. Each delivery must verify under each
of its secrets (a rotation's grace period signs with both). Prints
{"verified": N} as its last line; exits 1 on the first failure.
"""
import base64
import json
import sys

from standardwebhooks.webhooks import Webhook


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    verified = 0
    for delivery in spec["deliveries"]:
        body = base64.b64decode(delivery["body_b64"])
        headers = {
            "webhook-id": delivery["id"],
            "webhook-timestamp": delivery["timestamp"],
            "webhook-signature": delivery["signature"],
        }
        for secret in delivery["secrets"]:
            try:
                payload = Webhook(secret).verify(body, headers)
            except Exception as error:  # noqa: BLE001 - report any refusal
                print(f"delivery {delivery['id']} does not verify: {error!r}", file=sys.stderr)
                return 1
            if payload.get("data", {}).get("id") != delivery["id"]:
                print(f"delivery {delivery['id']}: payload names another alert", file=sys.stderr)
                return 1
            verified += 1
    # A tampered body must be refused.
    if spec["deliveries"]:
        first = spec["deliveries"][0]
        headers = {
            "webhook-id": first["id"],
            "webhook-timestamp": first["timestamp"],
            "webhook-signature": first["signature"],
        }
        try:
            Webhook(first["secrets"][0]).verify(b'{"tampered": true}', headers)
        except Exception:  # noqa: BLE001
            pass
        else:
            print("a tampered body verified", file=sys.stderr)
            return 1
    print(json.dumps({"verified": verified}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
