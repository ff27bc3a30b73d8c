"""A compression interop peer: Python's `websockets` client, which offers
permessage-deflate by default (`compression="deflate"`) and compresses
every message once it is agreed, fragments included.
tests/deflate_interop_deno_test.ts checks the wire (through a proxy) and
the results.

Run:  python3 deflate_python_peer.py <ws-base-url> <peer-id> <check,check,...>
Prints one JSON object: { "peer": ..., "results": { <check>: observed } }.
"""

import asyncio
import json
import os
import sys

import websockets

CHECK_TIMEOUT_S = 60
MAX_SIZE = 64 * 1024 * 1024


def chat_text(length):
    """Chat-like JSON text (compresses well) of at least `length` characters."""
    parts = []
    size = 0
    i = 0
    while size < length:
        part = '{"id":%d,"user":"user%d","text":"h\u00e9llo \u2603 number %d"},' % (
            i,
            i % 13,
            i,
        )
        parts.append(part)
        size += len(part)
        i += 1
    return "".join(parts)[:length]


def pattern_bytes(length):
    return bytes((i % 7) if (i % 64) < 32 else 0 for i in range(length))


def chat_message(index):
    """A chat message as deflate_peer_checks.js writes it."""
    return json.dumps(
        {
            "type": "message",
            "username": f"user{index % 7}",
            "room": "lobby",
            "text": f"Hello everyone, this is message number {index}. How are you?",
            "ts": 1_700_000_000_000 + index * 1234,
        },
        separators=(",", ":"),
    )


def window_messages():
    messages = [chat_text(20_000)]
    for i in range(30):
        messages.append(f"{i}:{chat_text(300 + 50 * i)}:{chat_message(i)}")
    messages.append(os.urandom(5000))
    messages.append(pattern_bytes(40_000))
    return messages


async def stream_check(url, messages):
    async with connect(url) as ws:
        for message in messages:
            await ws.send(message)
        in_order = True
        for message in messages:
            if await ws.recv() != message:
                in_order = False
        return {
            "count": len(messages),
            "inOrder": in_order,
            "extensions": ws.response_headers.get("Sec-WebSocket-Extensions", ""),
        }


def connect(url):
    # compression is left at its default: "deflate".
    return websockets.connect(url, max_size=MAX_SIZE, ping_interval=None)


def describe(reply, sent):
    return {
        "type": "text" if isinstance(reply, str) else "binary",
        "identical": reply == sent,
    }


async def echo_one(url, message):
    async with connect(url) as ws:
        await ws.send(message)
        return describe(await ws.recv(), message)


async def run_check(base, peer_id, check):
    def url(extra=""):
        return f"{base}/?check={check}&peer={peer_id}{extra}"

    if check == "negotiated":
        async with connect(url()) as ws:
            await ws.send("extensions?")
            reply = await ws.recv()
            return {
                "extensions": ws.response_headers.get("Sec-WebSocket-Extensions", ""),
                "reply": reply,
            }
    if check == "off":
        async with connect(url("&deflate=off")) as ws:
            message = chat_text(65536)
            await ws.send(message)
            echo = describe(await ws.recv(), message)
            extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
            return {"extensions": extensions, **echo}
    if check == "text-large":
        return await echo_one(url(), chat_text(1024 * 1024))
    if check == "text-8mib":
        return await echo_one(url(), chat_text(8 * 1024 * 1024))
    if check == "text-small":
        return await echo_one(url(), chat_text(100))
    if check == "threshold-0":
        return await echo_one(url("&threshold=0"), chat_text(200))
    if check == "binary-random":
        return await echo_one(url(), os.urandom(1024 * 1024))
    if check == "binary-compressible":
        return await echo_one(url(), pattern_bytes(1024 * 1024))
    if check in ("fragmented-text", "fragmented-binary"):
        if check == "fragmented-text":
            whole = chat_text(300_000)
            pieces = [whole[:1000], "", whole[1000:200_000], whole[200_000:]]
        else:
            whole = pattern_bytes(200_000)
            pieces = [whole[:70_000], whole[70_000:]]
        async with connect(url()) as ws:
            # An iterable is sent as one message in several frames.
            await ws.send(pieces)
            return describe(await ws.recv(), whole)
    if check == "ordering":
        async with connect(url()) as ws:
            sent = []
            for i in range(60):
                if i % 3 == 0:
                    message = f"{i}:{chat_text(4096)}"
                elif i % 3 == 1:
                    message = f"{i}:tiny"
                else:
                    message = pattern_bytes(3000 + i)
                sent.append(message)
                await ws.send(message)
            in_order = True
            for message in sent:
                if await ws.recv() != message:
                    in_order = False
            return {"count": len(sent), "inOrder": in_order}
    if check == "takeover":
        return await stream_check(url(), [chat_message(i) for i in range(50)])
    if check.startswith("window-"):
        bits = check[len("window-"):]
        return await stream_check(url(f"&bits={bits}"), window_messages())
    raise ValueError(f"this peer has no check {check}")


async def main():
    base, peer_id, check_list = sys.argv[1:4]
    results = {}
    for check in check_list.split(","):
        try:
            results[check] = await asyncio.wait_for(
                run_check(base, peer_id, check), CHECK_TIMEOUT_S
            )
        except Exception as error:  # reported, not raised: the test decides
            results[check] = {"error": f"{type(error).__name__}: {error}"}
    peer = f"python {sys.version.split()[0]}, websockets {websockets.__version__}"
    print(json.dumps({"peer": peer, "results": results}))


asyncio.run(main())
