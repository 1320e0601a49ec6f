#!/usr/bin/env python3
"""Generate src/commands/table_data.rs from a running redis-sentinel 7.0.

Usage: scripts/gen_command_table.py [--port N] [--out PATH]

Without --port it starts `redis-sentinel` on a free loopback port in a temp
dir, asks it `COMMAND INFO` and `COMMAND DOCS` over RESP3 and stops it again.
The generated file is checked in: this script is never run by the build.
Entries are sorted by name (Redis's own order is hash-table order, random per
process), and the valkey 8 `primary` aliases of SENTINEL subcommands are
added next to their `master` counterparts.
"""
import argparse
import os
import socket
import subprocess
import tempfile
import time

# valkey 8 aliases: alias -> (master counterpart, summary)
ALIASES = {
    "primary": ("master", "Returns the state of a primary."),
    "primaries": ("masters", "Returns a list of monitored primaries."),
    "get-primary-addr-by-name": (
        "get-master-addr-by-name",
        "Returns the port and address of a primary instance.",
    ),
    "is-primary-down-by-addr": (
        "is-master-down-by-addr",
        "Determines whether a primary instance is down.",
    ),
}
ALIAS_SINCE = "8.0.0"


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.f = self.sock.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = chr(line[0]), line[1:]
        if t == "+":
            return ("simple", rest.decode())
        if t == "-":
            raise RuntimeError(rest.decode())
        if t == ":":
            return ("int", int(rest))
        if t == "$":
            n = int(rest)
            return ("bulk", self.f.read(n + 2)[:-2].decode())
        if t in "*~":
            return ("array" if t == "*" else "set", [self.read() for _ in range(int(rest))])
        if t == "%":
            return ("map", [(self.read(), self.read()) for _ in range(int(rest))])
        if t == "_":
            return ("null",)
        raise RuntimeError("unexpected RESP type %r" % line)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fetch(port):
    c = Conn(port)
    c.cmd("HELLO", "3")
    return c.cmd("COMMAND", "INFO"), c.cmd("COMMAND", "DOCS")


def strs(v):
    return [x[1] for x in v[1]]


def parse_info(entry):
    v = entry[1]
    assert not v[8][1], "sentinel commands have no key specs"
    return {
        "full": v[0][1],
        "arity": v[1][1],
        "flags": strs(v[2]),
        "keys": (v[3][1], v[4][1], v[5][1]),
        "cats": [c.lstrip("@") for c in strs(v[6])],
        "tips": strs(v[7]),
        "subs": [parse_info(s) for s in v[9][1]],
    }


ARG_FIELDS = ["name", "type", "key_spec_index", "token", "summary", "since",
              "deprecated_since", "flags", "arguments"]
DOC_FIELDS = ["summary", "since", "group", "complexity", "doc_flags",
              "deprecated_since", "replaced_by", "history", "arguments", "subcommands"]


def check_order(keys, order):
    idx = [order.index(k) for k in keys]
    assert idx == sorted(idx), "unexpected field order %r" % keys


def parse_arg(a):
    m = {k[1]: v for k, v in a[1]}
    check_order(list(m), ARG_FIELDS)
    return {
        "name": m["name"][1],
        "type": m["type"][1],
        "key_spec_index": m["key_spec_index"][1] if "key_spec_index" in m else None,
        "token": m.get("token", (None, None))[1],
        "summary": m.get("summary", (None, None))[1],
        "since": m.get("since", (None, None))[1],
        "deprecated_since": m.get("deprecated_since", (None, None))[1],
        "flags": strs(m["flags"]) if "flags" in m else [],
        "arguments": [parse_arg(x) for x in m["arguments"][1]] if "arguments" in m else [],
    }


def parse_docs(doc):
    m = {k[1]: v for k, v in doc[1]}
    check_order(list(m), DOC_FIELDS)
    return {
        "summary": m["summary"][1],
        "since": m["since"][1],
        "group": m["group"][1],
        "complexity": m.get("complexity", (None, None))[1],
        "doc_flags": strs(m["doc_flags"]) if "doc_flags" in m else [],
        "deprecated_since": m.get("deprecated_since", (None, None))[1],
        "replaced_by": m.get("replaced_by", (None, None))[1],
        "history": [(h[1][0][1], h[1][1][1]) for h in m["history"][1]] if "history" in m else [],
        "arguments": [parse_arg(x) for x in m["arguments"][1]] if "arguments" in m else [],
        "subcommands": {k[1]: parse_docs(v) for k, v in m["subcommands"][1]} if "subcommands" in m else {},
    }


def rs_str(s):
    if s is None:
        return "None"
    return "Some(%s)" % lit(s)


def lit(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rs_list(items):
    return "&[" + ", ".join(lit(x) for x in items) + "]"


def emit_args(args, ind):
    if not args:
        return "&[]"
    p = "    " * ind
    out = "&[\n"
    for a in args:
        out += p + "    Arg {\n"
        out += p + "        name: %s,\n" % lit(a["name"])
        out += p + "        kind: %s,\n" % lit(a["type"])
        out += p + "        key_spec_index: %s,\n" % ("None" if a["key_spec_index"] is None else "Some(%d)" % a["key_spec_index"])
        out += p + "        token: %s,\n" % rs_str(a["token"])
        out += p + "        summary: %s,\n" % rs_str(a["summary"])
        out += p + "        since: %s,\n" % rs_str(a["since"])
        out += p + "        deprecated_since: %s,\n" % rs_str(a["deprecated_since"])
        out += p + "        flags: %s,\n" % rs_list(a["flags"])
        out += p + "        arguments: %s,\n" % emit_args(a["arguments"], ind + 2)
        out += p + "    },\n"
    return out + p + "]"


def emit_spec(info, docs, ind):
    p = "    " * ind
    full = info["full"]
    name = full.split("|")[-1]
    subs = sorted(info["subs"], key=lambda s: s["full"])
    out = p + "CommandSpec {\n"
    out += p + "    name: %s,\n" % lit(name)
    out += p + "    full_name: %s,\n" % lit(full)
    out += p + "    arity: %d,\n" % info["arity"]
    out += p + "    flags: %s,\n" % rs_list(info["flags"])
    out += p + "    first_key: %d,\n    %slast_key: %d,\n    %skey_step: %d,\n" % (info["keys"][0], p, info["keys"][1], p, info["keys"][2])
    out += p + "    acl_categories: %s,\n" % rs_list(info["cats"])
    out += p + "    tips: %s,\n" % rs_list(info["tips"])
    out += p + "    key_specs: &[],\n"
    if subs:
        out += p + "    subcommands: &[\n"
        for s in subs:
            out += emit_spec(s, docs["subcommands"][s["full"]], ind + 2)
        out += p + "    ],\n"
    else:
        out += p + "    subcommands: &[],\n"
    out += p + "    docs: CommandDocs {\n"
    out += p + "        summary: %s,\n" % lit(docs["summary"])
    out += p + "        since: %s,\n" % lit(docs["since"])
    out += p + "        group: %s,\n" % lit(docs["group"])
    out += p + "        complexity: %s,\n" % rs_str(docs["complexity"])
    out += p + "        doc_flags: %s,\n" % rs_list(docs["doc_flags"])
    out += p + "        deprecated_since: %s,\n" % rs_str(docs["deprecated_since"])
    out += p + "        replaced_by: %s,\n" % rs_str(docs["replaced_by"])
    hist = ", ".join("(%s, %s)" % (lit(a), lit(b)) for a, b in docs["history"])
    out += p + "        history: &[%s],\n" % hist
    out += p + "        arguments: %s,\n" % emit_args(docs["arguments"], ind + 2)
    out += p + "    },\n"
    out += p + "},\n"
    return out


def add_aliases(infos, docs):
    sentinel = next(i for i in infos if i["full"] == "sentinel")
    sdocs = docs["sentinel"]["subcommands"]
    by_full = {s["full"]: s for s in sentinel["subs"]}
    for alias, (orig, summary) in ALIASES.items():
        src = by_full["sentinel|" + orig]
        sentinel["subs"].append(dict(src, full="sentinel|" + alias))
        d = dict(sdocs["sentinel|" + orig], summary=summary, since=ALIAS_SINCE, history=[])
        sdocs["sentinel|" + alias] = d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "src", "commands", "table_data.rs"))
    args = ap.parse_args()
    proc = None
    if args.port is None:
        port = free_port()
        tmp = tempfile.mkdtemp()
        conf = os.path.join(tmp, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\n" % port)
        proc = subprocess.Popen(["redis-sentinel", conf], cwd=tmp, stdout=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
    else:
        port = args.port
    try:
        info, docs = fetch(port)
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
    infos = [parse_info(e) for e in info[1]]
    docmap = {k[1]: parse_docs(v) for k, v in docs[1]}
    add_aliases(infos, docmap)
    infos.sort(key=lambda i: i["full"])
    out = ("//! Generated by scripts/gen_command_table.py from redis-sentinel 7.0.15\n"
           "//! (`COMMAND INFO` + `COMMAND DOCS`), plus valkey 8's `primary` aliases.\n"
           "//! Do not edit by hand: regenerate instead.\n\n"
           "use super::table::{Arg, CommandDocs, CommandSpec};\n\n"
           "/// Every top-level command of the sentinel table, sorted by name.\n"
           "pub(super) static COMMANDS_DATA: &[CommandSpec] = &[\n")
    for i in infos:
        out += emit_spec(i, docmap[i["full"]], 1)
    out += "];\n"
    with open(args.out, "w") as f:
        f.write(out)
    # Keep the checked-in file identical to what `rustfmt` would make of it.
    subprocess.run(["rustfmt", "--edition", "2021", args.out], check=True)


if __name__ == "__main__":
    main()
