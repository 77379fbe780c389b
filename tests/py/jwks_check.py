"""An independent reader of what rotor wrote for a key pair: the private JWKs in a key
file (JSON format) and the public JWKS document rotor published.

Checks with jwcrypto and PyJWT, none of rotor's code: every stored key parses, its kid
is its RFC 7638 thumbprint as jwcrypto computes it, the document lists exactly the
public keys of pending, current and previous in that order with no private member, a
JWT signed with the current private key verifies against the document, and the private
key exported as PKCS#8 PEM (for `openssl pkey -check`). Prints a JSON report.
"""

import json
import sys

import jwt
from jwcrypto import jwk

PRIVATE = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def main():
    keys_path, doc_path, pem_out = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(keys_path) as f:
        stored = json.load(f)
    with open(doc_path) as f:
        doc = json.load(f)
    report = {"kids": {}, "doc_kids": [], "errors": []}
    err = report["errors"].append
    slots = [s for s in ("pending", "current", "previous") if stored.get(s)]
    for slot in slots:
        key = jwk.JWK.from_json(stored[slot])
        if not key.has_private:
            err(f"{slot} is not a private key")
        thumb = key.thumbprint()
        report["kids"][slot] = thumb
        if json.loads(stored[slot]).get("kid") != thumb:
            err(f"{slot}: kid is not the RFC 7638 thumbprint")
    if set(doc) != {"keys"}:
        err(f"the document has members besides keys: {sorted(doc)}")
    for entry in doc["keys"]:
        leaked = PRIVATE & set(entry)
        if leaked:
            err(f"the document holds private members {sorted(leaked)}")
        if entry.get("use") != "sig":
            err("a key without use: sig")
        report["doc_kids"].append(entry["kid"])
        if jwk.JWK(**entry).thumbprint() != entry["kid"]:
            err("a published kid is not its key's thumbprint")
    if report["doc_kids"] != [report["kids"][s] for s in slots]:
        err("the document's kids are not pending, current, previous in order")
    # Each published key is the public half of the stored private key.
    for slot in slots:
        private = jwk.JWK.from_json(stored[slot])
        public = json.loads(private.export_public())
        published = next(e for e in doc["keys"] if e["kid"] == report["kids"][slot])
        for member, value in public.items():
            if member != "kid" and published.get(member) != value:
                err(f"{slot}: published {member} differs from the private key's")
    # Sign with current, verify against the published set, by kid.
    current = jwk.JWK.from_json(stored["current"])
    alg = json.loads(stored["current"])["alg"]
    pem = current.export_to_pem(private_key=True, password=None)
    with open(pem_out, "wb") as f:
        f.write(pem)
    token = jwt.encode({"sub": "rotor-test"}, pem, algorithm=alg,
                       headers={"kid": report["kids"]["current"]})
    jwks = jwt.PyJWKSet.from_dict(doc)
    kid = jwt.get_unverified_header(token)["kid"]
    verifier = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(token, verifier.key, algorithms=[alg])
    report["verified"] = claims["sub"] == "rotor-test"
    print(json.dumps(report))


main()
