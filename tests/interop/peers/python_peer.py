"""An interop peer on Python's `websockets` package (asyncio client).

Run:  python3 python_peer.py <ws-url> <check,check,...>
Prints one JSON object: {"peer": ..., "results": {<check>: observed}}.
The test decides what is right; this script only reports what happened.
Works with websockets 10 (Debian 12) and later releases.
"""

import asyncio
import json
import re
import sys

import websockets

CHECK_TIMEOUT_S = 15
CLOSE_TIMEOUT_S = 5
MAX_SIZE = 64 * 1024 * 1024


def make_text(byte_length):
    """A text of exactly byte_length UTF-8 bytes mixing 1- to 4-byte characters."""
    unit = "a\u00e9\u2603\U0001F600"
    units = byte_length // 10
    return unit * units + "x" * (byte_length - units * 10)


def make_bytes(length):
    return bytes((index * 31 + 7) & 0xFF for index in range(length))


def connect(url, subprotocols=None):
    return websockets.connect(
        url,
        subprotocols=subprotocols,
        max_size=MAX_SIZE,
        ping_interval=None,
        close_timeout=CLOSE_TIMEOUT_S,
        compression=None,
    )


def close_info(ws):
    code = ws.close_code
    reason = ws.close_reason
    return {
        "code": code,
        "reason": reason,
        "clean": code is not None and code != 1006,
    }


def describe(reply, expected):
    if isinstance(reply, str):
        return {
            "type": "text",
            "bytes": len(reply.encode("utf-8")),
            "identical": reply == expected,
        }
    return {"type": "binary", "bytes": len(reply), "identical": reply == expected}


async def echo_check(url, payload):
    async with connect(url) as ws:
        await ws.send(payload)
        reply = await ws.recv()
        return describe(reply, payload)


async def fragmented_check(url, pieces):
    async with connect(url) as ws:
        # An iterable is sent as one message in several frames.
        await ws.send(pieces)
        reply = await ws.recv()
        whole = "".join(pieces) if isinstance(pieces[0], str) else b"".join(pieces)
        return describe(reply, whole)


async def ordering_check(url):
    async with connect(url) as ws:
        count = 100
        for index in range(count):
            await ws.send(f"message {index}")
        in_order = True
        for index in range(count):
            if await ws.recv() != f"message {index}":
                in_order = False
        return {"count": count, "inOrder": in_order}


async def client_ping_check(url):
    async with connect(url) as ws:
        # The waiter resolves only when a pong with this payload arrives.
        waiter = await ws.ping(b"client-ping")
        await waiter
        return {"pong": "client-ping"}


async def server_ping_check(url):
    async with connect(url) as ws:
        # websockets answers pings itself; the server reports the pong.
        await ws.send("ping:python-peer")
        reply = await ws.recv()
        return {"reply": reply if isinstance(reply, str) else None}


async def client_close_check(url):
    ws = await connect(url)
    await ws.close(4000, "client bye \u2603")
    return close_info(ws)


async def server_close_check(url):
    ws = await connect(url)
    await ws.send("close:4001:server bye \u2603")
    try:
        await ws.recv()
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    return close_info(ws)


async def subprotocol_check(url, subprotocols):
    async with connect(url, subprotocols) as ws:
        return {"protocol": ws.subprotocol or ""}


async def rejected_check(base):
    try:
        ws = await connect(base + "/reject")
    except Exception as error:  # the handshake was refused, as expected
        status = getattr(error, "status_code", None)
        response = getattr(error, "response", None)
        if status is None and response is not None:
            status = getattr(response, "status_code", None)
        return {"opened": False, "status": status}
    await ws.close()
    return {"opened": True}


def run_check(base, check):
    url = base + "/"
    sized = re.fullmatch(r"(text|binary)-(\d+)", check)
    if sized:
        length = int(sized.group(2))
        payload = make_text(length) if sized.group(1) == "text" else make_bytes(length)
        return echo_check(url, payload)
    if check == "text-unicode":
        return echo_check(url, "Hello, w\u00f6rld \u2603 \U0001F600")
    if check == "fragmented-text":
        return fragmented_check(url, ["Hel", "lo, w\u00f6", "rld"])
    if check == "fragmented-binary":
        return fragmented_check(url, [make_bytes(1000), b"", make_bytes(70000)])
    if check == "ordering":
        return ordering_check(url)
    if check == "client-ping":
        return client_ping_check(url)
    if check == "server-ping":
        return server_ping_check(url)
    if check == "client-close":
        return client_close_check(url)
    if check == "server-close":
        return server_close_check(url)
    if check == "subprotocol":
        return subprotocol_check(url, ["superchat", "chat"])
    if check == "subprotocol-none":
        return subprotocol_check(url, None)
    if check == "rejected":
        return rejected_check(base)
    raise ValueError(f"this peer has no check {check}")


async def main(base, checks):
    results = {}
    for check in checks:
        try:
            results[check] = await asyncio.wait_for(run_check(base, check), CHECK_TIMEOUT_S)
        except asyncio.TimeoutError:
            results[check] = {"error": f"{check}: timed out"}
        except Exception as error:
            results[check] = {"error": f"{type(error).__name__}: {error}"}
    return results


if __name__ == "__main__":
    base_url, check_list = sys.argv[1], sys.argv[2]
    outcome = asyncio.run(main(base_url, check_list.split(",")))
    peer = f"python {sys.version.split()[0]}, websockets {websockets.__version__}"
    print(json.dumps({"peer": peer, "results": outcome}))
