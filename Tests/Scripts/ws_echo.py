"""WebSocket echo server and client for Sluice's tunnel tests (Python `websockets`).

server PORT_FILE: listens on a free 127.0.0.1 port, writes it to PORT_FILE, echoes every message until killed.
client URL COUNT PAUSE_FILE: sends COUNT messages one by one and checks each echo; after half of them it writes
"half" to PAUSE_FILE and waits until the file says "go" (the test reloads the gateway meanwhile). Prints "ok N".
"""
import asyncio
import os
import sys

import websockets


async def serve(port_file):
    async def echo(connection):
        async for message in connection:
            await connection.send(message)

    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        with open(port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(port_file + ".tmp", port_file)
        await asyncio.Future()


async def client(url, count, pause_file):
    async with websockets.connect(url, max_size=None) as connection:
        for index in range(count):
            if index == count // 2:
                with open(pause_file, "w") as f:
                    f.write("half")
                for _ in range(200):
                    with open(pause_file) as f:
                        if f.read() == "go":
                            break
                    await asyncio.sleep(0.05)
            payload = ("message %d " % index) * (1 + index % 50)
            await connection.send(payload)
            reply = await connection.recv()
            if reply != payload:
                print("mismatch at %d" % index)
                sys.exit(1)
        big = b"\x00\x01binary" * 100000
        await connection.send(big)
        if await connection.recv() != big:
            print("binary mismatch")
            sys.exit(1)
    print("ok %d" % count)


if sys.argv[1] == "server":
    asyncio.run(serve(sys.argv[2]))
else:
    asyncio.run(client(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
