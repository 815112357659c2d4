"""A small Hugging Face Hub look-alike on 127.0.0.1, good enough for the real `huggingface_hub` client.

Point the client at it with `HF_ENDPOINT=<server.url>` (or `HfApi(endpoint=server.url)`), and keep
`HF_HUB_DISABLE_XET=1` (this server speaks plain HTTP only, never Xet).

What it serves (each repo keeps its files in memory and one commit sha per state):

    GET  /api/{type}s/{ns}/{name}[/revision/{rev}]         repo info: id, sha, private, gated, siblings
    GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]      tree listing (?recursive=, pages via `Link` header)
    POST /api/{type}s/{ns}/{name}/paths-info/{rev}         paths info (form field `paths`, repeatable)
    HEAD/GET /[{type}s/]{ns}/{name}/resolve/{rev}/{path}   file bytes; ETag (git blob sha1) or, for LFS
                                                          files, X-Linked-Etag = sha256 and X-Linked-Size;
                                                          X-Repo-Commit; `Range: bytes=a-b` -> 206
    POST /api/repos/create                                 create an empty repo (409 when it exists)
    POST /api/validate-yaml                                README metadata check (always valid)
    POST /api/{type}s/{ns}/{name}/preupload/{rev}          every file is uploaded "regular" (base64, no LFS)
    POST /api/{type}s/{ns}/{name}/commit/{rev}             NDJSON commit: `file` adds, `deletedFile` removes

So `hf_hub_download`, `snapshot_download`, `HfApi.list_repo_tree/get_paths_info/repo_info`,
`create_repo` and `upload_folder`/`upload_file` all work against it.

Knobs for tests:
  * `add_repo(repo_id, files, gated=..., private=..., tokens=...)`: `files` maps repo paths to bytes;
    `add_folder` reads a folder. As on the hub, a gated repo lists its tree to anyone but serves files only to
    `tokens` (401 without a token, 403 with another, `X-Error-Code: GatedRepo`); a private repo is "not
    found" (401 RepoNotFound) without one of `tokens`.
  * `reported_sizes={path: n}`: the listing claims size n (to test disk-space checks without big files);
    `reported_sha256={path: hex}`: the listing (and X-Linked-Etag) claims another sha256 (corruption tests).
  * `lfs_suffixes`: files with these suffixes (or >= `lfs_threshold` bytes) are listed as LFS with sha256.
  * `server.throttle_bps`: bytes per second for file bodies, so a client can be killed mid-file.
  * `server.page_size`: tree entries per page (exercises pagination).
  * `server.requests`: (method, path, range) of every request; `server.file_gets(path)` counts GETs of a file;
    `server.completed`: repo paths whose body was sent to the end (a file fetched twice appears twice).

Usage:
    with HubServer() as hub:
        hub.add_repo("org/data", {"a/b.bag": b"..."})
        os.environ["HF_ENDPOINT"] = hub.url
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".bag", ".mp4", ".parquet", ".safetensors", ".bin")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeRepo:
    repo_id: str
    repo_type: str = "dataset"
    files: dict[str, bytes] = field(default_factory=dict)
    gated: bool = False
    private: bool = False
    tokens: set[str] = field(default_factory=set)
    reported_sizes: dict[str, int] = field(default_factory=dict)
    reported_sha256: dict[str, str] = field(default_factory=dict)
    lfs_suffixes: tuple[str, ...] = LFS_SUFFIXES
    lfs_threshold: int = 10 * 1024 * 1024

    @property
    def sha(self) -> str:
        digest = hashlib.sha1(self.repo_id.encode())
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + hashlib.sha1(self.files[path]).digest())
        return digest.hexdigest()

    def is_lfs(self, path: str) -> bool:
        return path.endswith(self.lfs_suffixes) or len(self.files[path]) >= self.lfs_threshold

    def file_entry(self, path: str) -> dict:
        data = self.files[path]
        size = self.reported_sizes.get(path, len(data))
        entry: dict = {"type": "file", "path": path, "size": size, "oid": git_blob_sha1(data)}
        if self.is_lfs(path):
            sha256 = self.reported_sha256.get(path) or hashlib.sha256(data).hexdigest()
            pointer = (
                f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
            )
            entry.update(
                oid=git_blob_sha1(pointer), lfs={"oid": sha256, "size": size, "pointerSize": len(pointer)}
            )
        return entry

    def folders(self) -> set[str]:
        out = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return out

    def tree(self, prefix: str, recursive: bool) -> list[dict]:
        prefix = prefix.strip("/")
        base = f"{prefix}/" if prefix else ""
        entries = []
        for folder in sorted(self.folders()):
            if folder.startswith(base) and (recursive or "/" not in folder[len(base) :]):
                entries.append(
                    {
                        "type": "directory",
                        "path": folder,
                        "oid": hashlib.sha1(folder.encode()).hexdigest(),
                        "size": 0,
                    }
                )
        for path in sorted(self.files):
            if path.startswith(base) and (recursive or "/" not in path[len(base) :]):
                entries.append(self.file_entry(path))
        return entries


class HubServer:
    """Start with `start()` (or `with`), stop with `stop()`; `url` is the HF_ENDPOINT to use."""

    def __init__(self, page_size: int = 1000):
        self.repos: dict[tuple[str, str], FakeRepo] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.completed: list[str] = []  # repo paths whose whole body was sent (any number of requests)
        self.throttle_bps: float | None = None
        self.page_size = page_size
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever, so only when it runs
            self._httpd.shutdown()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def add_repo(
        self, repo_id: str, files: dict[str, bytes] | None = None, repo_type: str = "dataset", **kw
    ) -> FakeRepo:
        repo = FakeRepo(repo_id=repo_id, repo_type=repo_type, files=dict(files or {}), **kw)
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def add_folder(self, repo_id: str, folder: Path, repo_type: str = "dataset", **kw) -> FakeRepo:
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(Path(folder).rglob("*"))
            if p.is_file()
        }
        return self.add_repo(repo_id, files, repo_type=repo_type, **kw)

    def file_gets(self, path: str) -> int:
        """How many GET requests fetched the file at repo path `path` (any repo, any revision)."""
        return sum(
            1
            for m, p, _ in self.requests
            if m == "GET" and "/resolve/" in p and p.endswith("/" + quote(path))
        )


def _make_handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # keep test output quiet
            pass

        # ---- plumbing -------------------------------------------------------------------------------
        def _record(self) -> None:
            with hub._lock:
                hub.requests.append((self.command, urlsplit(self.path).path, self.headers.get("Range")))

        def _send(
            self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False
        ) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, str(value))
            if "Content-Length" not in (headers or {}):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and body:
                self.wfile.write(body)

        def _json(self, status: int, data, headers: dict | None = None) -> None:
            self._send(
                status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})}
            )

        def _error(self, status: int, code: str | None, message: str, head: bool = False) -> None:
            headers = {"Content-Type": "application/json", "X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            self._send(status, b"" if head else json.dumps({"error": message}).encode(), headers, head=head)

        def _body(self) -> bytes:
            """The request body, read once (an unread body would corrupt the next request on a kept-alive
            connection, so do_POST reads it before any route can answer)."""
            if not hasattr(self, "_request_body"):
                self._request_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return self._request_body

        def _find(
            self, repo_type: str, repo_id: str, head: bool = False, content: bool = False
        ) -> FakeRepo | None:
            """The repo, or None after answering as the hub does: private repos look missing without a valid
            token; gated repos show their metadata and tree to anyone but their files (`content`) only to
            tokens in `repo.tokens` (401 without a token, 403 with another one, X-Error-Code: GatedRepo)."""
            repo = hub.repos.get((repo_type, repo_id))
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found", head)
                return None
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip() if auth else ""
            if repo.private and token not in repo.tokens:
                self._error(401, "RepoNotFound", "Repository not found", head)
                return None
            if repo.gated and content and token not in repo.tokens:
                if not token:
                    self._error(
                        401,
                        "GatedRepo",
                        f"Access to {repo_id} is restricted. You must be authenticated.",
                        head,
                    )
                else:
                    msg = f"Access to {repo_id} is restricted and you are not in the authorized list."
                    self._error(403, "GatedRepo", msg, head)
                return None
            return repo

        def _check_rev(self, repo: FakeRepo, rev: str, head: bool = False) -> bool:
            if unquote(rev) in ("main", repo.sha):
                return True
            self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(rev)}", head)
            return False

        # ---- routes ---------------------------------------------------------------------------------
        def do_HEAD(self) -> None:
            self._dispatch(head=True)

        def do_GET(self) -> None:
            self._dispatch(head=False)

        def do_POST(self) -> None:
            self._record()
            self.__dict__.pop("_request_body", None)  # handler objects serve many requests per connection
            self._body()
            parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
            if parts[:3] == ["api", "repos", "create"]:
                return self._create_repo(json.loads(self._body() or b"{}"))
            if parts[:2] == ["api", "validate-yaml"]:  # README.md metadata check on upload: always fine here
                return self._json(200, {"errors": [], "warnings": []})
            if len(parts) >= 6 and parts[0] == "api":
                repo_type, repo_id, action = parts[1].rstrip("s"), f"{parts[2]}/{parts[3]}", parts[4]
                repo = self._find(repo_type, repo_id)
                if repo is None:
                    return
                rev = "/".join(parts[5:])
                if action == "paths-info" and self._check_rev(repo, rev):
                    form = parse_qs(self._body().decode())
                    wanted = set(form.get("paths", []))
                    entries = [e for e in repo.tree("", recursive=True) if e["path"] in wanted]
                    return self._json(200, entries)
                if action == "preupload":
                    files = json.loads(self._body())["files"]
                    return self._json(
                        200,
                        {
                            "files": [
                                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                for f in files
                            ]
                        },
                    )
                if action == "commit":
                    return self._commit(repo)
            self._error(404, None, f"no route for POST {self.path}")

        def _dispatch(self, head: bool) -> None:
            self._record()
            url = urlsplit(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if parts and parts[0] == "api" and len(parts) >= 4:
                return self._api_get(parts, query, url.path, head)
            if "resolve" in parts:
                i = parts.index("resolve")
                prefix = parts[: i - 2]
                repo_type = prefix[0].rstrip("s") if prefix else "model"
                repo_id = "/".join(parts[i - 2 : i])
                return self._resolve(repo_type, repo_id, parts[i + 1], "/".join(parts[i + 2 :]), head)
            self._error(404, None, f"no route for {self.path}", head)

        def _api_get(self, parts: list[str], query: dict, raw_path: str, head: bool) -> None:
            repo_type, repo_id = parts[1].rstrip("s"), f"{parts[2]}/{parts[3]}"
            repo = self._find(repo_type, repo_id, head)
            if repo is None:
                return
            rest = parts[4:]
            if not rest or rest[0] == "revision":
                if rest and not self._check_rev(repo, "/".join(rest[1:]), head):
                    return
                siblings = [{"rfilename": p} for p in sorted(repo.files)]
                info = {
                    "id": repo.repo_id,
                    "sha": repo.sha,
                    "private": repo.private,
                    "gated": "manual" if repo.gated else False,
                    "siblings": siblings,
                    "tags": [],
                }
                return self._json(200, info)
            if rest[0] == "tree":
                if not self._check_rev(repo, rest[1], head):
                    return
                prefix = "/".join(rest[2:])
                if prefix and prefix not in repo.folders():
                    return self._error(404, "EntryNotFound", f"{prefix} does not exist", head)
                recursive = query.get("recursive", "false").lower() == "true"
                entries = repo.tree(prefix, recursive)
                start = int(query.get("cursor", 0))
                page = entries[start : start + hub.page_size]
                headers = {}
                if start + hub.page_size < len(entries):
                    nxt = f"{hub.url}{raw_path}?recursive={str(recursive).lower()}&cursor={start + hub.page_size}"
                    headers["Link"] = f'<{nxt}>; rel="next"'
                return self._json(200, page, headers)
            self._error(404, None, f"no route for {self.path}", head)

        def _resolve(self, repo_type: str, repo_id: str, rev: str, path: str, head: bool) -> None:
            repo = self._find(repo_type, repo_id, head, content=True)
            if repo is None or not self._check_rev(repo, rev, head):
                return
            if path not in repo.files:
                return self._error(404, "EntryNotFound", f"{path} does not exist", head)
            data = repo.files[path]
            headers = {
                "X-Repo-Commit": repo.sha,
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
            }
            entry = repo.file_entry(path)
            if "lfs" in entry:
                headers["X-Linked-Etag"] = f'"{entry["lfs"]["oid"]}"'
                headers["X-Linked-Size"] = str(entry["size"])
                headers["ETag"] = f'"{entry["lfs"]["oid"]}"'
            else:
                headers["ETag"] = f'"{entry["oid"]}"'
            status, start, end = 200, 0, len(data)
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                first, _, last = rng[len("bytes=") :].partition("-")
                start = int(first or 0)
                end = int(last) + 1 if last else len(data)
                if start >= len(data):
                    return self._error(416, None, "range not satisfiable", head)
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
            body = data[start:end]
            headers["Content-Length"] = str(len(body))
            self._send(status, b"", headers, head=True)
            if not head and self._write_throttled(body) and end == len(data):
                with hub._lock:
                    hub.completed.append(path)

        def _write_throttled(self, body: bytes) -> bool:
            """Send the body (slowly with `throttle_bps`); False when the client went away first."""
            step = 16 * 1024 if hub.throttle_bps is None else max(1024, int(hub.throttle_bps / 20))
            try:
                for i in range(0, len(body), step):
                    self.wfile.write(body[i : i + step])
                    if hub.throttle_bps:
                        self.wfile.flush()
                        time.sleep(step / hub.throttle_bps)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return False
            return True

        def _create_repo(self, payload: dict) -> None:
            repo_type = payload.get("type") or "model"
            name = payload["name"]
            repo_id = f"{payload['organization']}/{name}" if payload.get("organization") else name
            if "/" not in repo_id:
                repo_id = f"user/{repo_id}"
            if (repo_type, repo_id) in hub.repos:
                return self._error(409, None, "You already created this repo")
            hub.add_repo(repo_id, repo_type=repo_type, private=payload.get("visibility") == "private")
            prefix = "" if repo_type == "model" else f"{repo_type}s/"
            self._json(200, {"url": f"{hub.url}/{prefix}{repo_id}", "name": repo_id})

        def _commit(self, repo: FakeRepo) -> None:
            for line in self._body().splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                value = item["value"]
                if item["key"] == "file":
                    repo.files[value["path"]] = base64.b64decode(value["content"])
                elif item["key"] == "deletedFile":
                    repo.files.pop(value["path"], None)
                elif item["key"] == "deletedFolder":
                    for p in [p for p in repo.files if p.startswith(value["path"].rstrip("/") + "/")]:
                        del repo.files[p]
                elif item["key"] == "lfsFile":
                    return self._error(400, None, "this test hub accepts regular (base64) uploads only")
            prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
            self._json(
                200,
                {
                    "commitUrl": f"{hub.url}/{prefix}{repo.repo_id}/commit/{repo.sha}",
                    "commitOid": repo.sha,
                    "pullRequestUrl": None,
                },
            )

    return Handler


if __name__ == "__main__":  # manual poking: python tests/hub_server.py FOLDER [REPO_ID]
    import sys

    with HubServer() as server:
        server.add_folder(sys.argv[2] if len(sys.argv) > 2 else "local/repo", Path(sys.argv[1]))
        print(f"HF_ENDPOINT={server.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
