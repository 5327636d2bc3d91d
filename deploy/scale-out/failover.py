#!/usr/bin/env python3
"""Kill one tracewire server under load behind haproxy, and check what the
clients saw.

Writer threads (one organization) send batches of new ETH addresses with
`POST /v1/records` and an `Idempotency-Key`; reader threads (another
organization) screen addresses already written with `GET /v1/screen/...`.
Every thread keeps one keep-alive HTTPS connection through haproxy, with the
organization's client certificate (mutual TLS ends on the tracewire server;
haproxy passes TCP through). After `--before` seconds the driver sends
SIGKILL to one server, waits until the process is gone, and goes on for
`--after` seconds. A request that fails is retried on a new connection with
the same body and the same Idempotency-Key until it succeeds.

Then it checks, and exits 1 if any check fails:
  * the kill hit requests in flight (at least one failed), so the check is
    not vacuous;
  * every failed request had been sent on a connection that haproxy had
    routed to the killed server before it died (haproxy's log, matched by
    the client's local port); no request on the surviving server failed,
    and no connection made after the kill failed;
  * every failed request was completed by its retry (writes: 201, either
    stored now or replayed with `Idempotent-Replayed: true`);
  * in the database (psql on the primary), every address written has
    exactly one record and exactly one change-feed entry, and the writes
    that were retried are among them: nothing lost, nothing doubled;
  * the survivor served requests after the kill.

Standard library only. Prints a summary and writes it as JSON (--out).
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse


def load_demo(demo_dir, org):
    with open(os.path.join(demo_dir, "demo.json")) as f:
        demo = json.load(f)
    entry = next(o for o in demo["organizations"] if o["id"] == org)
    url = urllib.parse.urlparse(demo["api_url"])
    return {
        "host": url.hostname,
        "port": url.port,
        "ca": demo["ca_cert"],
        "cert": entry["cert"],
        "key": entry["key"],
        "client_id": entry["client_id"],
    }


class Client:
    """One organization over one keep-alive connection at a time."""

    def __init__(self, conf, token_holder):
        self.conf = conf
        self.ctx = ssl.create_default_context(cafile=conf["ca"])
        self.ctx.load_cert_chain(conf["cert"], conf["key"])
        self.conn = None
        self.port = None
        self.tokens = token_holder

    def connect(self):
        self.close()
        self.conn = http.client.HTTPSConnection(
            self.conf["host"], self.conf["port"], context=self.ctx, timeout=60
        )
        self.conn.connect()
        self.port = self.conn.sock.getsockname()[1]

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None
        self.port = None

    def raw(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.connect()
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        payload = resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload

    def token(self):
        form = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "client_id": self.conf["client_id"]}
        ).encode()
        status, _, payload = self.raw(
            "POST",
            "/v1/oauth/token",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 200:
            raise RuntimeError(f"token: {status} {payload[:200]!r}")
        return json.loads(payload)["access_token"]


def address(run, n):
    return "0x" + hashlib.sha256(f"tracewire-scale-out-{run}-{n}".encode()).hexdigest()[:40]


class Run:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.attempts = []  # every request sent: dicts
        self.written = []  # addresses of batches that were answered 201
        self.retried_batches = []  # (key, addresses, final status, replayed)
        self.next_batch = 0
        self.t_kill = None
        self.t_dead = None
        self.tokens = {}
        self.thread_errors = []

    def guarded(self, target, *args):
        try:
            target(*args)
        except Exception as e:  # reported as a failed check, not lost with the thread
            with self.lock:
                self.thread_errors.append(f"{type(e).__name__}: {e}")

    def record(self, entry):
        with self.lock:
            self.attempts.append(entry)

    def send(self, client, kind, method, path, body, headers, ok_statuses):
        """Sends until answered with an expected status; returns the last
        (status, headers) and whether it needed a retry."""
        tries = 0
        while True:
            tries += 1
            entry = {"kind": kind, "path": path[:60], "try": tries, "port": None}
            entry["sent"] = time.monotonic()
            try:
                if client.conn is None:
                    client.connect()
                entry["port"] = client.port
                hdrs = dict(headers)
                hdrs["Authorization"] = "Bearer " + self.tokens[kind]
                status, rh, payload = client.raw(method, path, body, hdrs)
                entry["done"] = time.monotonic()
                entry["status"] = status
                if status == 401:
                    # An expired token: fetch another and send again (not a failure of the kill).
                    self.tokens[kind] = client.token()
                    entry["ok"] = True
                    entry["note"] = "token refreshed"
                    self.record(entry)
                    continue
                entry["ok"] = status in ok_statuses
                if not entry["ok"]:
                    entry["error"] = f"HTTP {status}: {payload[:300]!r}"
                self.record(entry)
                if entry["ok"]:
                    return status, rh, tries > 1
            except (OSError, http.client.HTTPException, ssl.SSLError) as e:
                entry["done"] = time.monotonic()
                entry["ok"] = False
                entry["error"] = f"{type(e).__name__}: {e}"
                self.record(entry)
                client.close()
            if tries >= 20:
                raise RuntimeError(f"{kind} {path}: still failing after {tries} tries")
            time.sleep(0.05)

    def writer(self, conf):
        client = Client(conf, self.tokens)
        while not self.stop.is_set():
            with self.lock:
                b = self.next_batch
                self.next_batch += 1
            addrs = [address(self.args.run, b * self.args.batch + i) for i in range(self.args.batch)]
            items = [
                {
                    "kind": "address",
                    "chain": "eth",
                    "address": a,
                    "categories": ["scam"],
                    "confidence": 60,
                    "tlp": "green",
                    "method": "investigation",
                    "source_reference": f"scale-out {self.args.run} batch {b}",
                }
                for a in addrs
            ]
            key = f"scale-out-{self.args.run}-{b}"
            status, rh, retried = self.send(
                client,
                "write",
                "POST",
                "/v1/records",
                {"items": items},
                {"Idempotency-Key": key, "Prefer": "return=minimal"},
                (201,),
            )
            with self.lock:
                self.written.extend(addrs)
                if retried:
                    self.retried_batches.append(
                        {
                            "key": key,
                            "status": status,
                            "replayed": rh.get("idempotent-replayed") == "true",
                            "addresses": addrs,
                        }
                    )
        client.close()

    def reader(self, conf, seed):
        client = Client(conf, self.tokens)
        i = seed
        while not self.stop.is_set():
            with self.lock:
                pool = len(self.written)
                a = self.written[(i * 7919) % pool] if pool else address("none", i)
            i += 1
            self.send(client, "read", "GET", f"/v1/screen/eth/{a}", None, {}, (200,))
        client.close()


def haproxy_sessions(log_path):
    """(client port, accepted at (unix s), backend/server, termination state) per session."""
    sessions = []
    pat = re.compile(r"scaleout-session port=(\d+) accept=(\d+)\.(\d+) server=(\S+) state=(\S+)")
    with open(log_path, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if m:
                sessions.append(
                    {
                        "port": int(m.group(1)),
                        "accept": int(m.group(2)) + int(m.group(3)) / 1000.0,
                        "server": m.group(4),
                        "state": m.group(5),
                    }
                )
    return sessions


def psql(url, sql):
    out = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-AtX", "-q"],
        input=sql,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demo-dir", required=True)
    p.add_argument("--writer-org", default="acme-forensics")
    p.add_argument("--reader-org", default="northwind-exchange")
    p.add_argument("--kill-pid", type=int, required=True)
    p.add_argument("--kill-server", required=True, help="haproxy's name of that server, e.g. tracewire/s2")
    p.add_argument("--haproxy-log", required=True)
    p.add_argument("--database-url", required=True, help="the primary, for the exactly-once check")
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--readers", type=int, default=4)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--before", type=float, default=3.0)
    p.add_argument("--after", type=float, default=4.0)
    p.add_argument("--run", default=str(int(time.time())))
    p.add_argument("--out")
    args = p.parse_args()

    run = Run(args)
    writer_conf = load_demo(args.demo_dir, args.writer_org)
    reader_conf = load_demo(args.demo_dir, args.reader_org)
    bootstrap = Client(writer_conf, None)
    run.tokens["write"] = bootstrap.token()
    bootstrap.close()
    bootstrap = Client(reader_conf, None)
    run.tokens["read"] = bootstrap.token()
    bootstrap.close()

    threads = [threading.Thread(target=run.guarded, args=(run.writer, writer_conf)) for _ in range(args.writers)]
    threads += [threading.Thread(target=run.guarded, args=(run.reader, reader_conf, k)) for k in range(args.readers)]
    # Monotonic times of this process against haproxy's wall-clock accept times.
    wall_offset = time.time() - time.monotonic()
    t_start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(args.before)
    run.t_kill = time.monotonic()
    os.kill(args.kill_pid, signal.SIGKILL)
    while True:
        try:
            with open(f"/proc/{args.kill_pid}/stat") as f:
                if f.read().split(") ")[1].startswith(("Z", "X")):
                    break
        except FileNotFoundError:
            break
        time.sleep(0.001)
    run.t_dead = time.monotonic()
    time.sleep(args.after)
    run.stop.set()
    for t in threads:
        t.join()
    t_end = time.monotonic()
    time.sleep(1.0)  # haproxy logs a session when it closes

    sessions = haproxy_sessions(args.haproxy_log)
    by_port = {}
    for s in sessions:
        by_port.setdefault(s["port"], []).append(s)

    def session_of(entry):
        """haproxy's session for the connection the request went on: the
        latest one from that local port accepted before it was sent."""
        if entry["port"] is None:
            return None
        sent_wall = entry["sent"] + wall_offset
        cands = [s for s in by_port.get(entry["port"], []) if s["accept"] <= sent_wall + 0.01]
        return max(cands, key=lambda s: s["accept"]) if cands else None

    failures = [a for a in run.attempts if not a["ok"]]
    problems = list(run.thread_errors)
    if not failures:
        problems.append("no request failed: the kill hit nothing in flight, so nothing was checked")
    dead_wall = run.t_dead + wall_offset
    sent_before_death = 0
    for f in failures:
        s = session_of(f)
        f["server"] = s["server"] if s else None
        f["session_state"] = s["state"] if s else None
        if s is None:
            problems.append(f"failed request without a haproxy session: {f}")
        elif s["server"] != args.kill_server:
            problems.append(f"a request on {s['server']} (not the killed server) failed: {f}")
        elif s["accept"] > dead_wall:
            problems.append(f"a connection made after the kill failed: {f}")
        if f["sent"] <= run.t_dead:
            sent_before_death += 1

    # Each failed attempt is followed by a successful try of the same request.
    incomplete = [
        f for f in failures
        if not any(a["ok"] and a["path"] == f["path"] and a["kind"] == f["kind"] and a["sent"] > f["sent"] for a in run.attempts)
    ]
    if incomplete:
        problems.append(f"{len(incomplete)} failed requests were never completed by a retry")

    after_kill_ok = [a for a in run.attempts if a["ok"] and a["sent"] > run.t_dead]
    survivors = {session_of(a)["server"] for a in after_kill_ok if session_of(a)}
    if not after_kill_ok:
        problems.append("no request succeeded after the kill")
    if args.kill_server in survivors:
        problems.append(f"requests sent after the kill were answered by {args.kill_server}")

    # Exactly once, in the database.
    written = sorted(set(run.written))
    if len(written) != len(run.written):
        problems.append("the driver generated the same address twice")
    keys = "\n".join("evm:" + a[2:] for a in written)
    retried_keys = "\n".join("evm:" + a[2:] for b in run.retried_batches for a in b["addresses"])
    check = psql(
        args.database_url,
        "CREATE TEMP TABLE expected (link_key text PRIMARY KEY, retried boolean NOT NULL DEFAULT false);\n"
        "COPY expected (link_key) FROM STDIN;\n" + keys + "\n\\.\n"
        "CREATE TEMP TABLE retried (link_key text);\n"
        "COPY retried FROM STDIN;\n" + retried_keys + "\n\\.\n"
        "UPDATE expected SET retried = true WHERE link_key IN (SELECT link_key FROM retried);\n"
        "ANALYZE expected;\n"
        # Joins, not correlated sub-selects: right after a load the tables
        # have no planner statistics (autovacuum is off on these machines).
        "WITH recs AS (SELECT e.link_key, count(r.id) AS n FROM expected e LEFT JOIN records r ON r.link_key = e.link_key GROUP BY e.link_key), "
        " feed AS (SELECT e.link_key, count(c.seq) AS n FROM expected e LEFT JOIN records r ON r.link_key = e.link_key "
        "  LEFT JOIN changes c ON c.record_id = r.id GROUP BY e.link_key), "
        " per AS (SELECT e.link_key, e.retried, recs.n AS recs, feed.n AS feed FROM expected e JOIN recs USING (link_key) JOIN feed USING (link_key)) "
        "SELECT count(*), count(*) FILTER (WHERE recs = 1), count(*) FILTER (WHERE feed = 1), "
        " count(*) FILTER (WHERE retried), count(*) FILTER (WHERE retried AND recs = 1 AND feed = 1) FROM per;\n"
        "SELECT count(*) FROM records WHERE body LIKE '%scale-out " + args.run + " batch %';\n",
    )
    lines = check.splitlines()
    total, once, feed_once, retried_n, retried_once = map(int, lines[0].split("|"))
    tagged = int(lines[1])
    if not (total == once == feed_once == len(written)):
        problems.append(
            f"exactly-once violated: {len(written)} addresses written, {once} with exactly one record, {feed_once} with exactly one change"
        )
    if retried_n != retried_once:
        problems.append(f"of {retried_n} retried addresses only {retried_once} are stored exactly once")
    if tagged != len(written):
        problems.append(f"{tagged} records carry this run's source reference, {len(written)} were written")

    ok_attempts = [a for a in run.attempts if a["ok"]]
    summary = {
        "run": args.run,
        "seconds": round(t_end - t_start, 2),
        "kill_to_gone_ms": round((run.t_dead - run.t_kill) * 1000, 1),
        "requests_answered": len(ok_attempts),
        "writes_answered": sum(1 for a in ok_attempts if a["kind"] == "write"),
        "reads_answered": sum(1 for a in ok_attempts if a["kind"] == "read"),
        "answered_after_kill": len(after_kill_ok),
        "failed": len(failures),
        "failed_writes": sum(1 for f in failures if f["kind"] == "write"),
        "failed_reads": sum(1 for f in failures if f["kind"] == "read"),
        "failed_sent_before_death": sent_before_death,
        "failed_on_killed_server": sum(1 for f in failures if f.get("server") == args.kill_server),
        "retried_write_batches": len(run.retried_batches),
        "retried_writes_replayed": sum(1 for b in run.retried_batches if b["replayed"]),
        "retried_writes_stored_by_retry": sum(1 for b in run.retried_batches if not b["replayed"]),
        "addresses_written": len(written),
        "addresses_stored_exactly_once": once,
        "retried_addresses_stored_exactly_once": retried_once,
        "haproxy_sessions": len(sessions),
        "failures": [{k: v for k, v in f.items() if k in ("kind", "path", "try", "error", "server", "session_state")} for f in failures],
        "problems": problems,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)
    print(
        f"failover: {summary['requests_answered']} requests answered in {summary['seconds']} s "
        f"({summary['writes_answered']} write batches of {args.batch}, {summary['reads_answered']} lookups), "
        f"{summary['answered_after_kill']} after the kill; server gone {summary['kill_to_gone_ms']} ms after SIGKILL"
    )
    print(
        f"failover: {summary['failed']} requests failed ({summary['failed_writes']} writes, {summary['failed_reads']} lookups), "
        f"all on connections to {args.kill_server}: {summary['failed_on_killed_server']}; "
        f"{sent_before_death} sent before it was gone, the rest on connections it had just dropped"
    )
    print(
        f"failover: {summary['retried_write_batches']} write batches retried with the same Idempotency-Key "
        f"({summary['retried_writes_replayed']} had committed and were replayed, "
        f"{summary['retried_writes_stored_by_retry']} were stored by the retry); "
        f"{once} of {len(written)} addresses stored exactly once with one change-feed entry each "
        f"(retried: {retried_once} of {retried_n})"
    )
    for problem in problems:
        print("FAIL: " + problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
