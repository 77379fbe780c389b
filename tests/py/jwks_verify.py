"""A signer and a verifier running side by side until a stop file appears.

The signer reads the key file (JSON) before every token, as a service that reloads at
once would, and signs with `current` (kid in the header). The verifier is PyJWT's
PyJWKClient with a JWKS cache of LIFESPAN seconds and no refetch on an unknown kid: a
verifier that trusts its cache for that long, as CDNs and libraries do. Prints
{"ok": n, "failed": n, "kids": [...signing kids seen...]}.
"""

import json
import os
import sys
import time

import jwt
from jwcrypto import jwk

keys_path, url, lifespan, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
client = jwt.PyJWKClient(url, cache_keys=False, cache_jwk_set=True, lifespan=lifespan)
ok = failed = 0
kids = []
errors = []
while not os.path.exists(stop):
    with open(keys_path) as f:
        current = json.load(f)["current"]
    member = json.loads(current)
    pem = jwk.JWK.from_json(current).export_to_pem(private_key=True, password=None)
    token = jwt.encode({"n": ok + failed}, pem, algorithm=member["alg"],
                       headers={"kid": member["kid"]})
    if not kids or kids[-1] != member["kid"]:
        kids.append(member["kid"])
    try:
        keyset = client.get_jwk_set()
        key = next((k for k in keyset.keys if k.key_id == member["kid"]), None)
        if key is None:
            raise LookupError("kid not in the cached JWKS")
        jwt.decode(token, key.key, algorithms=[member["alg"]])
        ok += 1
    except Exception as e:  # noqa: BLE001 - every failure counts
        failed += 1
        if len(errors) < 3:
            errors.append(str(e))
    time.sleep(0.02)
print(json.dumps({"ok": ok, "failed": failed, "kids": kids, "errors": errors}))
