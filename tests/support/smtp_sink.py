#!/usr/bin/env python3
"""A real SMTP server on loopback for glas's tests (aiosmtpd).

    python3 tests/support/smtp_sink.py OUTDIR [--reject-first N] [--tls starttls|implicit]

Binds 127.0.0.1 on a port the OS picks and prints that port on the first line
of stdout. Every message received is written to OUTDIR/NNNN.eml (raw bytes as
received) with OUTDIR/NNNN.json beside it (envelope sender and recipients).
With --reject-first N the first N DATA commands are refused with a 451.
With --tls starttls the server requires STARTTLS; with --tls implicit it
speaks TLS from the first byte (as on port 465). Either way it presents
tests/support/tls/server.pem, signed by the test CA tests/support/tls/ca.pem.
Exits when its stdin closes.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, outdir, reject_first):
        self.outdir = outdir
        self.reject_left = reject_first
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.reject_left > 0:
            self.reject_left -= 1
            return "451 4.3.0 try again later"
        self.count += 1
        base = os.path.join(self.outdir, f"{self.count:04d}")
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        os.replace(base + ".json.tmp", base + ".json")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.replace(base + ".eml.tmp", base + ".eml")
        return "250 OK"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--reject-first", type=int, default=0)
    ap.add_argument("--tls", choices=["starttls", "implicit"])
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    sink = Sink(args.outdir, args.reject_first)
    loop = asyncio.get_running_loop()
    context = None
    if args.tls:
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(os.path.join(here, "server.pem"), os.path.join(here, "server.key"))
    if args.tls == "starttls":
        factory = lambda: SMTP(sink, hostname="glas-test-sink", tls_context=context, require_starttls=True)
        server = await loop.create_server(factory, host="127.0.0.1", port=0)
    elif args.tls == "implicit":
        factory = lambda: SMTP(sink, hostname="glas-test-sink")
        server = await loop.create_server(factory, host="127.0.0.1", port=0, ssl=context)
    else:
        factory = lambda: SMTP(sink, hostname="glas-test-sink")
        server = await loop.create_server(factory, host="127.0.0.1", port=0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
