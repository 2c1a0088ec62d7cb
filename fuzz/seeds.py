#!/usr/bin/env python3
"""Regenerates fuzz/corpus/<target>/ seeds from the committed fixtures (pcaps/, tests/feeds/,
config/). Each target's harness prepends a fixed prefix to steer format detection; the seeds
here are the fixtures with that prefix taken off, so they start as valid inputs.

Usage: python3 fuzz/seeds.py   (from the repository root or anywhere)
"""
import hashlib
import io
import json
import pathlib
import struct
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
# Must match LINK_TYPES in fuzz/src/lib.rs: the decode target's byte 0 indexes it.
LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147, 0xFFFF]
MAX_SEED = 8 * 1024


def put(target, data):
    if len(data) > MAX_SEED:
        return
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def pcap_frames(path):
    """(link type, frame) of every record of a classic pcap file."""
    raw = path.read_bytes()
    if len(raw) < 24:
        return
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        return
    link = struct.unpack(end + "I", raw[20:24])[0] & 0x0FFFFFFF
    at = 24
    while at + 16 <= len(raw):
        incl = struct.unpack(end + "I", raw[at + 8 : at + 12])[0]
        frame = raw[at + 16 : at + 16 + incl]
        if len(frame) < incl:
            return
        yield link, frame
        at += 16 + incl


def decode_seeds():
    seen = set()
    for path in sorted((ROOT / "pcaps").glob("*.pcap")):
        for link, frame in pcap_frames(path):
            if link not in LINK_TYPES:
                continue
            # One seed per (file, link, frame length) keeps the set small and varied.
            key = (path.name, link, len(frame))
            if key in seen:
                continue
            seen.add(key)
            put("decode", bytes([LINK_TYPES.index(link)]) + frame)


def dns_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_response(qname, answers):
    head = struct.pack(">HHHHHH", 0x1234, 0x8180, 1, len(answers), 0, 0)
    body = dns_name(qname) + struct.pack(">HH", 1, 1)
    for owner, rtype, ttl, rdata in answers:
        body += owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata
    return head + body


def tls_hello(server_name):
    n = server_name.encode()
    sni = struct.pack(">HHHBH", 0, len(n) + 5, len(n) + 3, 0, len(n)) + n
    body = b"\3\3" + b"\x11" * 32 + b"\0" + b"\0\2\x13\x01" + b"\1\0"
    body += struct.pack(">H", len(sni)) + sni
    hs = b"\1" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\3\1" + struct.pack(">H", len(hs)) + hs


def name_seeds():
    """Seeds for the dns, tls_sni and http_request targets, built like the parsers' tests."""
    query = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + dns_name("c2.example.org") + b"\0\1\0\1"
    cname = dns_response(
        "c2.example.org",
        [
            (b"\xc0\x0c", 5, 300, dns_name("cdn.example.net")),
            (b"\xc0\x2c", 1, 60, bytes([192, 0, 2, 7])),
            (b"\xc0\x2c", 28, 60, bytes(15) + b"\1"),
        ],
    )
    for msg in (query, cname):
        put("dns", b"\0" + msg)
        put("dns", b"\1" + struct.pack(">H", len(msg)) + msg)
    put("dns", b"\0" + query[:12] + b"\xc0\x0c\0\1\0\1")
    hello = tls_hello("c2.example.org")
    put("tls_sni", hello)
    put("tls_sni", hello[:40])
    put("http_request", b"GET /gate.php HTTP/1.1\r\nHost: c2.example.org\r\n\r\n")
    put("http_request", b"POST http://c2.example.org:8080/p?q=1 HTTP/1.0\r\n\r\n")


def capture_seeds():
    for path in sorted((ROOT / "pcaps").iterdir()):
        if path.suffix in (".pcap", ".pcapng"):
            put("capture_file", path.read_bytes())


def strip_key(path, key):
    """The JSON object without `key`, opened brace removed (the harness supplies `{key..., `)."""
    obj = json.loads(path.read_text())
    obj.pop(key, None)
    text = json.dumps(obj, indent=1)
    return text[1:].encode()


def feed_seeds():
    feeds = ROOT / "tests" / "feeds"
    for name in ["plain-defanged.txt", "every-rejection.txt", "no-iocs.txt", "names.txt"]:
        put("ioc_plain", (feeds / name).read_bytes())
    put("ioc_plain", b"evil[.]duckdns[.]org\n*.duckdns.org\nhxxps[:]//x.example:8443/p?q=1\nb\xc3\xbccher.example.\n")
    put("ioc_markdown", b"| domain | evil[.]duckdns[.]org | botnet_cc | 2026-05-09 | 75% |\n| url | hxxp://evil[.]example/gate.php | payload_delivery | 2026-05-09 | 50% |\n")
    for path in (ROOT / "pcaps" / "iocs").glob("*.txt"):
        put("ioc_plain", path.read_bytes())
    put("ioc_markdown", (feeds / "remcos-writeup.md").read_bytes())
    for path in feeds.glob("*threatfox*.csv"):
        put("ioc_threatfox_csv", path.read_bytes())
    put("ioc_feodo_csv", (feeds / "feodo-blocklist.csv").read_bytes())
    feodo_json = (feeds / "feodo-blocklist.json").read_bytes()
    put("ioc_feodo_json", feodo_json.split(b'"ip_address":', 1)[1])
    for name in ["address-list.csv", "address-noheader.csv"]:
        put("ioc_address_csv", (feeds / name).read_bytes())
    for name in ["threatfox-export.json", "truncated-export.json"]:
        put("ioc_threatfox_json", (feeds / name).read_bytes().lstrip()[1:])
    put("ioc_threatfox_api", strip_key(feeds / "threatfox-api.json", "query_status"))
    put("ioc_stix", strip_key(feeds / "stix-bundle.json", "type"))
    put("ioc_stix", b': "bundle", "objects": [{"type": "indicator", "pattern": "[domain-name:value = \'evil.duckdns.org\'] OR [url:value = \'http://x.example:8080/p\']"}]}')
    for name in ["threatfox-recent.csv", "plain-defanged.txt", "stix-bundle.json"]:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("__MACOSX/", b"")
            z.writestr("full." + name.rsplit(".", 1)[1], (feeds / name).read_bytes())
        put("ioc_zip", buf.getvalue()[2:])


def config_seeds():
    put("config", (ROOT / "config" / "c2tap.toml").read_bytes())
    put("config", b'user = "c2tap"\n[capture]\ninterfaces = ["eth0"]\nsnaplen = 512\n')
    put("config", b'[outputs]\nurls = ["tcp://127.0.0.1:514"]\n[outputs.options]\nspool_dir = "/var/lib/c2tap/spool"\n')
    put("config", b'[flow]\nmax_flows = 100\n[flow.timeouts]\ntcp_established = "1h"\n')


if __name__ == "__main__":
    decode_seeds()
    name_seeds()
    capture_seeds()
    feed_seeds()
    config_seeds()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
