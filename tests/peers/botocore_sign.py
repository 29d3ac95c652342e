"""botocore as an independent SigV4 peer signer (used by kernel-core/tests/peers.rs).

Reads one JSON document on stdin:

    {
      "time": "2026-12-03T12:00:00Z",          # frozen clock (UTC)
      "region": "us-east-1",
      "service": "execute-api",
      "access_key": "...", "secret_key": "...", "token": "..." | null,
      "cases": [
        {"name": "...", "method": "GET", "url": "https://...",
         "headers": [["accept", "application/json"], ...],   # before signing, in order
         "body_b64": "..."}
      ]
    }

and writes one JSON document on stdout:

    {"botocore": "1.44.8",
     "results": [{"name": "...", "authorization": "...", "x-amz-date": "...",
                  "x-amz-security-token": "..." | null,
                  "canonical_request": "...", "string_to_sign": "..."}]}

Each case is signed with
`SigV4Auth(Credentials(ak, sk, token), service, region).add_auth(AWSRequest(...))` with
`botocore.auth.get_current_datetime` patched to the frozen time. botocore takes `host`
from the URL (dropping :80/:443) and skips its own blacklist (user-agent, expect,
x-amzn-trace-id, ...); every other header given here is signed, exactly like aws-sigv4.
"""

import base64
import datetime
import json
import sys

import botocore
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class RecordingSigV4Auth(SigV4Auth):
    """SigV4Auth that keeps the canonical request and string to sign (for diagnostics)."""

    last_canonical_request = None
    last_string_to_sign = None

    def canonical_request(self, request):
        cr = super().canonical_request(request)
        self.last_canonical_request = cr
        return cr

    def string_to_sign(self, request, canonical_request):
        sts = super().string_to_sign(request, canonical_request)
        self.last_string_to_sign = sts
        return sts


def main() -> int:
    doc = json.load(sys.stdin)
    frozen = datetime.datetime.strptime(doc["time"], "%Y-%m-%dT%H:%M:%SZ")
    # botocore.auth imported get_current_datetime by name; add_auth looks it up in the
    # module globals, so replacing it there freezes the clock for every signer below.
    botocore.auth.get_current_datetime = lambda *args, **kwargs: frozen

    creds = Credentials(doc["access_key"], doc["secret_key"], doc.get("token"))
    results = []
    for case in doc["cases"]:
        body = base64.b64decode(case.get("body_b64") or "")
        request = AWSRequest(method=case["method"], url=case["url"], data=body)
        # HTTPHeaders.__setitem__ appends, so repeated names keep their order.
        for name, value in case["headers"]:
            request.headers[name] = value
        signer = RecordingSigV4Auth(creds, doc["service"], doc["region"])
        signer.add_auth(request)
        results.append(
            {
                "name": case["name"],
                "authorization": request.headers.get("Authorization"),
                "x-amz-date": request.headers.get("X-Amz-Date"),
                "x-amz-security-token": request.headers.get("X-Amz-Security-Token"),
                "canonical_request": signer.last_canonical_request,
                "string_to_sign": signer.last_string_to_sign,
            }
        )
    json.dump({"botocore": botocore.__version__, "results": results}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
