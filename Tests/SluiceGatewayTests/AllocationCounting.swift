import CAllocationCounter
import NIOCore
import SluiceTestSupport
import Testing

/// Heap allocations per request on `loop`'s thread (the gateway's only loop), over `count` requests sent one after
/// another on `socket`, after 200 to warm pools, buffers and caches. Each answer must be a 200.
func allocationsPerRequest(
    sending request: String, on socket: TestSocket, loop: any EventLoop, count: Int
) async throws -> Double {
    for _ in 0..<200 {
        try await socket.send(request)
        _ = try await socket.readResponse()
    }
    try await loop.submit { sluice_allocations_count_this_thread(1) }.get()
    let before = sluice_allocations_counted()
    for _ in 0..<count {
        try await socket.send(request)
        #expect(try await socket.readResponse().status == 200)
    }
    let after = sluice_allocations_counted()
    try await loop.submit { sluice_allocations_count_this_thread(0) }.get()
    return Double(after - before) / Double(count)
}
