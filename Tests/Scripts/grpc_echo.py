"""gRPC peers for Sluice's tests (grpcio, raw bytes: no generated code).

server PORT_FILE: an insecure gRPC server on a free 127.0.0.1 port (written to PORT_FILE) with
  /echo.Echo/Unary   returns the request, with trailing metadata x-echo-trailer: yes;
  /echo.Echo/Stream  returns the request 5 times (server streaming);
  /echo.Echo/Fail    fails with NOT_FOUND "no such thing";
  /grpc.health.v1.Health/Check  SERVING for "" and "echo.Echo", NOT_SERVING for anything else.
client TARGET: calls each through TARGET (host:port, plain HTTP/2) and prints one line per result.
call TARGET METHOD: one unary call; prints "call OK" or "call CODE details".
"""
import os
import signal
import sys
import time
from concurrent import futures

import grpc


def serve(port_file):
    def unary(request, context):
        context.set_trailing_metadata((("x-echo-trailer", "yes"),))
        return request

    def stream(request, context):
        for _ in range(5):
            yield request

    def fail(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    def health(request, context):
        service = request[2:].decode() if len(request) > 2 else ""
        return b"\x08\x01" if service in ("", "echo.Echo") else b"\x08\x02"

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler("echo.Echo", handlers),
        grpc.method_handlers_generic_handler(
            "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(health)}),
    ))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(port_file + ".tmp", port_file)
    # SIGTERM ends the process at once (grpc's wait_for_termination would not see it).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(1)


def client(target):
    channel = grpc.insecure_channel(target)
    payload = b"hello through sluice " * 100
    reply, call = channel.unary_unary("/echo.Echo/Unary").with_call(payload, timeout=10)
    trailers = dict(call.trailing_metadata())
    print("unary", reply == payload, trailers.get("x-echo-trailer"), call.code().name)
    replies = list(channel.unary_stream("/echo.Echo/Stream")(b"tick", timeout=10))
    print("stream", len(replies), all(r == b"tick" for r in replies))
    try:
        channel.unary_unary("/echo.Echo/Fail")(b"x", timeout=10)
        print("fail none")
    except grpc.RpcError as error:
        print("fail", error.code().name, error.details())
    try:
        channel.unary_unary("/nowhere.Service/Call")(b"x", timeout=10)
        print("unrouted none")
    except grpc.RpcError as error:
        print("unrouted", error.code().name, error.details())


def call(target, method):
    channel = grpc.insecure_channel(target)
    try:
        channel.unary_unary(method)(b"x", timeout=10)
        print("call OK")
    except grpc.RpcError as error:
        print("call", error.code().name, error.details())


if sys.argv[1] == "server":
    serve(sys.argv[2])
elif sys.argv[1] == "call":
    call(sys.argv[2], sys.argv[3])
else:
    client(sys.argv[2])
