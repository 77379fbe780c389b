"""Google's own Secret Manager client (google-cloud-secret-manager, REST transport) against
an endpoint, as an independent reader and a foreign writer of rotor's GCP tests.

    gsm.py ENDPOINT PROJECT SECRET access VERSION     prints the payload (VERSION: n, latest, alias)
    gsm.py ENDPOINT PROJECT SECRET get                prints the secret as JSON
    gsm.py ENDPOINT PROJECT SECRET versions           prints "n STATE" per version, newest first
    gsm.py ENDPOINT PROJECT SECRET add VALUE          adds a version, prints its number
    gsm.py ENDPOINT PROJECT SECRET alias NAME N       points alias NAME at version N (etag-guarded)
    gsm.py ENDPOINT PROJECT SECRET create             creates the secret (automatic replication)
    gsm.py ENDPOINT PROJECT SECRET disable N          disables version N
    gsm.py ENDPOINT PROJECT SECRET stale-alias NAME N patches with a stale etag: prints the error's code

Anonymous credentials: the test server lets requests without a token do everything.
"""

import json
import sys

from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager
from google.protobuf import field_mask_pb2


def main():
    endpoint, project, secret, cmd, *args = sys.argv[1:]
    client = secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )
    name = f"projects/{project}/secrets/{secret}"
    if cmd == "access":
        r = client.access_secret_version(name=f"{name}/versions/{args[0]}")
        sys.stdout.write(r.payload.data.decode())
    elif cmd == "get":
        s = client.get_secret(name=name)
        print(json.dumps({
            "name": s.name,
            "etag": s.etag,
            "aliases": dict(s.version_aliases),
            "annotations": dict(s.annotations),
        }))
    elif cmd == "versions":
        for v in client.list_secret_versions(parent=name):
            print(v.name.rsplit("/", 1)[1], secretmanager.SecretVersion.State(v.state).name)
    elif cmd == "add":
        v = client.add_secret_version(parent=name, payload={"data": args[0].encode()})
        print(v.name.rsplit("/", 1)[1])
    elif cmd in ("alias", "stale-alias"):
        s = client.get_secret(name=name)
        aliases = dict(s.version_aliases)
        aliases[args[0]] = int(args[1])
        etag = s.etag if cmd == "alias" else '"0000000000"'
        try:
            client.update_secret(
                secret={"name": name, "etag": etag, "version_aliases": aliases},
                update_mask=field_mask_pb2.FieldMask(paths=["version_aliases"]),
            )
            print("updated")
        except exceptions.GoogleAPICallError as e:
            status = e.response.json()["error"]["status"] if e.response is not None else ""
            print(type(e).__name__, e.code, status, e.message)
    elif cmd == "create":
        client.create_secret(
            parent=f"projects/{project}",
            secret_id=secret,
            secret={"replication": {"automatic": {}}},
        )
    elif cmd == "disable":
        client.disable_secret_version(name=f"{name}/versions/{args[0]}")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
