#!/usr/bin/env python3
"""Captures real ZooKeeper 3.8 leader-election traffic as test fixtures.

Starts Debian's ZooKeeper as servers 2, 3 and 4 of an ensemble whose server 1
is this script's listener: each real server connects to it (a higher sid
initiates) and sends its handshake and LOOKING notifications. Once the
ensemble serves, the script connects to each server's election port as
sid 100 (outside the voting view) and records the server's reply, which is
its current vote. Writes the raw bytes to core/tests/fixtures/zab/ with a
meta.json saying which ports and sids they came from. Run it again only to
refresh the fixtures; the tests read the committed files.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "core", "tests", "fixtures", "zab")
JAR = "/usr/share/java/zookeeper.jar"
WATCHER_SID = 100


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def read_exact(conn, n, deadline):
    data = b""
    while len(data) < n:
        conn.settimeout(max(0.05, deadline - time.time()))
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def read_frame(conn, deadline):
    head = read_exact(conn, 4, deadline)
    (length,) = struct.unpack(">i", head)
    assert 0 < length <= 512 * 1024, length
    return head + read_exact(conn, length, deadline)


def srvr_mode(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"srvr")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        for line in data.decode().splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
    except OSError:
        return None
    return None


def main():
    os.makedirs(OUT, exist_ok=True)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    fake_port = listener.getsockname()[1]
    sids = [2, 3, 4]
    ports = dict(zip(sids, [free_ports(3) for _ in sids]))
    members = ["server.1=127.0.0.1:%d:%d" % (free_ports(1)[0], fake_port)]
    members += ["server.%d=127.0.0.1:%d:%d" % (sid, p[1], p[2]) for sid, p in ports.items()]
    captured = {}

    def accept_loop():
        deadline = time.time() + 20
        while len(captured) < len(sids) and time.time() < deadline:
            listener.settimeout(max(0.05, deadline - time.time()))
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                break
            try:
                head = read_exact(conn, 20, deadline)
                version, sid, alen = struct.unpack(">qqi", head)
                addr = read_exact(conn, alen, deadline)
                frame = read_frame(conn, deadline)
                captured.setdefault(sid, (head + addr, frame))
            except (EOFError, OSError):
                pass
            finally:
                conn.close()

    tmp = tempfile.mkdtemp(prefix="zab-capture-")
    procs = []
    thread = threading.Thread(target=accept_loop)
    thread.start()
    try:
        for sid, p in ports.items():
            d = os.path.join(tmp, "zk%d" % sid)
            os.makedirs(os.path.join(d, "data"))
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write("%d\n" % sid)
            with open(os.path.join(d, "zoo.cfg"), "w") as f:
                f.write("tickTime=200\ninitLimit=20\nsyncLimit=10\ndataDir=%s/data\n"
                        "clientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n"
                        "admin.enableServer=false\n%s\n" % (d, p[0], "\n".join(members)))
            log = open(os.path.join(d, "server.log"), "w")
            procs.append(subprocess.Popen(
                ["java", "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", JAR,
                 "org.apache.zookeeper.server.quorum.QuorumPeerMain", os.path.join(d, "zoo.cfg")],
                stdout=log, stderr=log, cwd=d))
        thread.join()
        deadline = time.time() + 30
        modes = {}
        while time.time() < deadline:
            modes = {sid: srvr_mode(p[0]) for sid, p in ports.items()}
            if all(modes.values()):
                break
            time.sleep(0.1)
        assert all(modes.values()), modes
        replies = {}
        for sid, p in ports.items():
            with socket.create_connection(("127.0.0.1", p[2]), timeout=5) as s:
                addr = b"127.0.0.1:1"
                s.sendall(struct.pack(">qqi", -65536, WATCHER_SID, len(addr)) + addr)
                # A LOOKING vote for ourselves, round 1: any notification
                # from a non-voter is answered with the server's vote.
                body = struct.pack(">iqqqqii", 0, WATCHER_SID, 0, 1, 0, 2, 0)
                s.sendall(struct.pack(">i", len(body)) + body)
                replies[sid] = read_frame(s, time.time() + 5)
        for sid, (hs, frame) in captured.items():
            open(os.path.join(OUT, "handshake_from_%d.bin" % sid), "wb").write(hs)
            open(os.path.join(OUT, "looking_from_%d.bin" % sid), "wb").write(frame)
        for sid, frame in replies.items():
            open(os.path.join(OUT, "reply_from_%d.bin" % sid), "wb").write(frame)
        meta = {
            "zookeeper": "Debian zookeeper 3.8.0",
            "watcher_sid": WATCHER_SID,
            "election_ports": {str(sid): p[2] for sid, p in ports.items()},
            "quorum_ports": {str(sid): p[1] for sid, p in ports.items()},
            "fake_server_1": fake_port,
            "modes": {str(k): v for k, v in modes.items()},
            "captured_handshakes": sorted(captured),
        }
        with open(os.path.join(OUT, "meta.json"), "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write("\n")
        print(json.dumps(meta, indent=2, sort_keys=True))
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        listener.close()


if __name__ == "__main__":
    sys.exit(main())
