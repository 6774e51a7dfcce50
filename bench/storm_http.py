"""The HTTP boot storm's client side: what ``openstack server create --wait``
does, from T threads at once, against a Compute API endpoint (nova_runtime's
or upstream Nova's; bench/boot_storm.py starts them).

Each client thread holds one Keystone token (fetched once, before the storm)
and one keep-alive HTTP session. In turn, until N servers were asked for, a
thread sends ``POST /v2.1/servers`` (one server, ``networks: none``), then
``GET /v2.1/servers/{id}`` every 0.5 s until the server is ACTIVE or ERROR
(or the per-server timeout passes: still BUILD). A server's time to ACTIVE
runs from its POST to the GET that saw it ACTIVE: what the user waits.

The pure helpers (``summarize``, ``per_server_ms``,
``ratio``, ``query_log_summary``) have unit tests
(tests/unit/test_bench_storm.py).
"""

import itertools
import re
import threading
import time

import requests

from harness.measure import percentile

POLL_INTERVAL = 0.5  # s between two GETs of one server, as a waiting client
MICROVERSION = "2.37"  # the first one with ``networks: none``


# --- pure helpers ---------------------------------------------------------------------

def _rounded(value, digits=2):
    return None if value is None else round(value, digits)


def summarize(records, began):
    """The figures of a storm from its ``records`` (one dict per server asked
    for: ``requested``, ``settled`` monotonic times or None, ``status``
    ACTIVE / ERROR / BUILD, or ``error`` when the POST failed) and the time
    of the first request. servers_per_s: ACTIVE servers over the time from
    the first POST to the last ACTIVE seen."""
    active = [r for r in records if r.get("status") == "ACTIVE"]
    waits = [r["settled"] - r["requested"] for r in active]
    posts = [r["post_s"] * 1000 for r in records if r.get("post_s") is not None]
    last = max((r["settled"] for r in active), default=None)
    elapsed = (last - began) if last is not None else None
    return {
        "asked": len(records),
        "active": len(active),
        "error": sum(1 for r in records if r.get("status") == "ERROR"),
        "build": sum(1 for r in records if r.get("status") == "BUILD"),
        "request_errors": sum(1 for r in records if r.get("error")),
        "elapsed_s": _rounded(elapsed),
        "servers_per_s": round(len(active) / elapsed, 2) if active and elapsed else 0.0,
        "time_to_active_p50_s": _rounded(percentile(waits, 0.5)),
        "time_to_active_p90_s": _rounded(percentile(waits, 0.9)),
        "time_to_active_max_s": _rounded(max(waits, default=None)),
        "post_p50_ms": _rounded(percentile(posts, 0.5), 1),
        "post_p90_ms": _rounded(percentile(posts, 0.9), 1),
    }


def per_server_ms(cpu_s, servers):
    """{component: CPU ms per server} from {component: CPU s}; {} without servers."""
    if not servers:
        return {}
    return {name: round(seconds * 1000 / servers, 1) for name, seconds in cpu_s.items()}


def ratio(ours, theirs):
    """ours / theirs rounded to 0.1 (None when either is missing or theirs is 0)."""
    if not ours or not theirs:
        return None
    return round(ours / theirs, 1)


def query_log_summary(path, top):
    """Lines on the ``top`` statements of MariaDB's slow query log at ``path``
    (every statement, with long_query_time 0) by rows examined, each
    statement's literals replaced by ?: calls, rows examined and sent in all,
    query seconds."""
    groups = {}
    entry = None  # [rows examined, rows sent, seconds, statement lines] of the entry read

    def flush():
        if entry and entry[3]:
            text = " ".join(entry[3])
            text = re.sub(r"'(?:[^'\\]|\\.)*'", "?", text)
            text = re.sub(r"\b\d+(\.\d+)?\b", "?", text)
            text = re.sub(r"\((?:\?, )+\?\)", "(?...)", text)[:300]
            group = groups.setdefault(text, [0, 0, 0, 0.0])
            group[0] += 1
            group[1] += entry[0]
            group[2] += entry[1]
            group[3] += entry[2]

    try:
        handle = open(path, errors="replace")
    except OSError as exc:
        return [f"no query log: {exc}"]
    with handle:
        for line in handle:
            if line.startswith("# Query_time:"):
                flush()
                fields = dict(re.findall(r"(\w+): ([\d.]+)", line))
                entry = [int(fields.get("Rows_examined", 0)), int(fields.get("Rows_sent", 0)),
                         float(fields.get("Query_time", 0)), []]
            elif entry is None or line.startswith(("#", "SET timestamp=", "use ")) \
                    or not line.strip():
                continue  # the server's header, an entry's other fields
            else:
                entry[3].append(line.strip())
        flush()
    ranked = sorted(groups.items(), key=lambda item: -item[1][1])[:top]
    return [f"query log: {calls} calls, {rows} rows examined, {sent} sent, {secs:.2f} s: {text}"
            for text, (calls, rows, sent, secs) in ranked]


# --- the Compute API -------------------------------------------------------------------

def call(method, url, admin_token, body=None, ok=(200, 201, 202, 204)):
    """One Compute API call as the admin; the JSON body."""
    response = requests.request(method, url, json=body, timeout=120, headers={
        "X-Auth-Token": admin_token, "OpenStack-API-Version": f"compute {MICROVERSION}",
        "X-OpenStack-Nova-API-Version": MICROVERSION})
    if response.status_code not in ok:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:500]}")
    return response.json() if response.content else None


def prepare(api_url, admin_token, project_id):
    """What an operator does first: the m1.storm flavor (1 vCPU, 512 MB, 1 GB)
    and no quota limit on servers, cores and RAM for the storm's project
    (quota is still counted on every request). Returns the flavor id."""
    call("POST", f"{api_url}/flavors", admin_token, {"flavor": {
        "name": "m1.storm", "ram": 512, "vcpus": 1, "disk": 1, "id": "storm"}})
    call("PUT", f"{api_url}/os-quota-sets/{project_id}", admin_token, {"quota_set": {
        "instances": -1, "cores": -1, "ram": -1}})
    return "storm"


# --- the storm ------------------------------------------------------------------------

def storm(api_url, tokens, flavor, image, servers, timeout=600, prefix="storm"):
    """Boot ``servers`` servers from len(tokens) threads (one token each);
    returns (records, monotonic time of the first request)."""
    counter = itertools.count()
    records = [None] * servers
    began = time.monotonic()

    def worker(token_):
        session = requests.Session()
        session.headers.update({
            "X-Auth-Token": token_, "Accept": "application/json",
            "OpenStack-API-Version": f"compute {MICROVERSION}",
            "X-OpenStack-Nova-API-Version": MICROVERSION})
        while (index := next(counter)) < servers:
            records[index] = _one(session, api_url, index, flavor, image, timeout, prefix)
        session.close()

    threads = [threading.Thread(target=worker, args=(t,), name=f"client-{n}")
               for n, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records, began


def _one(session, api_url, index, flavor, image, timeout, prefix):
    requested = time.monotonic()
    record = {"requested": requested, "settled": None, "status": None, "post_s": None}
    try:
        response = session.post(f"{api_url}/servers", timeout=120, json={"server": {
            "name": f"{prefix}-{index}", "flavorRef": flavor, "imageRef": image,
            "networks": "none"}})
    except requests.RequestException as exc:
        record["error"] = f"POST: {type(exc).__name__}: {exc}"
        return record
    record["post_s"] = time.monotonic() - requested
    if response.status_code != 202:
        record["error"] = f"POST: {response.status_code} {response.text[:300]}"
        return record
    server_id = response.json()["server"]["id"]
    record["id"] = server_id
    deadline = requested + timeout
    while time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
        try:
            shown = session.get(f"{api_url}/servers/{server_id}", timeout=120)
        except requests.RequestException:
            continue  # a waiting client tries again
        if shown.status_code != 200:
            continue
        status = shown.json()["server"]["status"]
        if status in ("ACTIVE", "ERROR"):
            record.update(status=status, settled=time.monotonic())
            if status == "ERROR":
                record["fault"] = (shown.json()["server"].get("fault") or {}).get("message")
            return record
    record["status"] = "BUILD"
    return record


# --- a stand-in for Neutron (upstream Nova's side only) ---------------------------------

NEUTRON_STUB = r'''
"""A stand-in for Neutron's API: every GET answers an empty list of what
it names (/v2.0/ports -> {"ports": []}), every other method 404. Upstream
Nova asks Neutron for ports and security groups even for servers with
networks "none"."""
import http.server, json, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0].rstrip("/")
        name = path.rsplit("/", 1)[-1].removesuffix(".json").replace("-", "_")
        if path in ("", "/"):
            self._answer(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                              "links": [{"rel": "self", "href": "/v2.0"}]}]})
        else:
            self._answer(200, {name or "resources": []})

    def _missing(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer(404, {"NeutronError": {"type": "NotFound", "message": "stand-in"}})

    do_POST = do_PUT = do_DELETE = _missing

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''
