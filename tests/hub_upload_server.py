"""A loopback hub that accepts uploads the way huggingface_hub 1.33 makes them (Xet disabled).

Requests `HfApi.create_repo` + `HfApi.upload_folder` make (read from huggingface_hub/hf_api.py,
_commit_api.py and lfs.py), and what this server answers:

    POST /api/repos/create                              {"url": ...}; 409 when the repo exists
    POST /api/validate-yaml                             README.md front matter: 200, or 400 + errors
    POST /api/models/{ns}/{name}/preupload/{rev}        uploadMode "lfs" for *.safetensors / >= 1 MiB, else
                                                        "regular" (base64 inside the commit)
    POST /{ns}/{name}.git/info/lfs/objects/batch        basic transfer: PUT href + verify href per object
    PUT  /lfs/{oid}                                     the object's bytes; sha256 must equal oid
    POST /lfs/{oid}/verify                              200 when the object arrived
    POST /api/models/{ns}/{name}/commit/{rev}           NDJSON: `file` (base64) and `lfsFile` (oid) adds
    POST /api/models/{ns}/{name}/tag/{rev}              {"tag": ...}: recorded in `tags`

The tests use tests/hub_server.py for downloads; that one accepts regular uploads only and has no
/api/validate-yaml, which every upload of a README.md calls.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml

LFS_MIN_SIZE = 1 << 20


class UploadHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.lfs: dict[str, bytes] = {}
        self.lfs_puts: list[str] = []
        self.auth_headers: set[str] = set()
        self.commits: list[dict] = []
        self.tags: dict[tuple[str, str], str] = {}  # (repo_id, tag) -> the commit it names
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> UploadHub:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(hub: UploadHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _json(self, status: int, data: object) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _parts(self) -> list[str]:
            if self.headers.get("Authorization"):
                hub.auth_headers.add(self.headers["Authorization"])
            return [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]

        def do_PUT(self) -> None:
            parts = self._parts()
            body = self._body()
            if len(parts) == 2 and parts[0] == "lfs":
                if hashlib.sha256(body).hexdigest() != parts[1]:
                    return self._json(400, {"error": "sha256 mismatch"})
                with hub._lock:
                    hub.lfs[parts[1]] = body
                    hub.lfs_puts.append(parts[1])
                return self._json(200, {})
            self._json(404, {"error": f"no route for PUT {self.path}"})

        def do_POST(self) -> None:
            parts = self._parts()
            body = self._body()
            if parts == ["api", "repos", "create"]:
                return self._create(json.loads(body))
            if parts == ["api", "validate-yaml"]:
                return self._validate_yaml(json.loads(body)["content"])
            if len(parts) == 3 and parts[0] == "lfs" and parts[2] == "verify":
                ok = parts[1] in hub.lfs
                return self._json(200 if ok else 404, {} if ok else {"error": "object missing"})
            if (
                len(parts) == 6
                and parts[1].endswith(".git")
                and parts[2:] == ["info", "lfs", "objects", "batch"]
            ):
                return self._lfs_batch(json.loads(body))
            if len(parts) >= 6 and parts[:2] == ["api", "models"]:
                repo_id, action = f"{parts[2]}/{parts[3]}", parts[4]
                if repo_id not in hub.repos:
                    return self._json(404, {"error": f"Repository {repo_id} not found"})
                if action == "preupload":
                    return self._json(200, {"files": [self._mode(f) for f in json.loads(body)["files"]]})
                if action == "commit":
                    return self._commit(repo_id, body)
                if action == "tag":  # HfApi.create_tag: POST .../tag/{revision} {"tag": ..., "message": ...}
                    hub.tags[(repo_id, json.loads(body)["tag"])] = unquote(parts[5])
                    return self._json(200, {})
            self._json(404, {"error": f"no route for POST {self.path}"})

        def _create(self, payload: dict) -> None:
            repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
            if repo_id in hub.repos:
                # as the real hub: the 409 body still carries the url (create_repo(exist_ok=True) reads it)
                return self._json(
                    409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"}
                )
            hub.repos[repo_id] = {}
            self._json(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})

        def _validate_yaml(self, content: str) -> None:
            if content.startswith("---"):
                try:
                    meta = yaml.safe_load(content.split("---", 2)[1])
                    if not isinstance(meta, dict):
                        raise ValueError("front matter is not a mapping")
                except Exception as err:
                    return self._json(400, {"errors": [{"message": str(err)}]})
            self._json(200, {"errors": [], "warnings": []})

        @staticmethod
        def _mode(f: dict) -> dict:
            lfs = f["path"].endswith(".safetensors") or f["size"] >= LFS_MIN_SIZE
            return {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}

        def _lfs_batch(self, payload: dict) -> None:
            objects = []
            for obj in payload["objects"]:
                oid = obj["oid"]
                actions = {
                    "upload": {"href": f"{hub.url}/lfs/{oid}", "header": {}},
                    "verify": {"href": f"{hub.url}/lfs/{oid}/verify", "header": {}},
                }
                objects.append({"oid": oid, "size": obj["size"], "authenticated": True, "actions": actions})
            self._json(200, {"transfer": "basic", "objects": objects})

        def _commit(self, repo_id: str, body: bytes) -> None:
            files = dict(hub.repos[repo_id])
            header = {}
            for line in body.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "header":
                    header = value
                elif key == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "lfsFile":
                    if value["oid"] not in hub.lfs:
                        return self._json(400, {"error": f"LFS object {value['oid']} was never uploaded"})
                    files[value["path"]] = hub.lfs[value["oid"]]
                else:
                    return self._json(400, {"error": f"unsupported commit operation {key}"})
            hub.repos[repo_id] = files
            hub.commits.append(header)
            oid = hashlib.sha1(
                json.dumps(sorted(files)).encode() + str(len(hub.commits)).encode()
            ).hexdigest()
            self._json(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{oid}", "commitOid": oid})

    return Handler
