#if canImport(Glibc)
import Glibc
#endif

/// A client that sends raw bytes and reads back what the server answered, response by response, for tests that
/// must send what no well-behaved client would. Blocking: call it through `offload`.
public enum RawHTTPClient {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    public struct Exchange: Sendable {
        /// The responses, in order (the probe's not included).
        public var responses: [Response]
        /// The server closed the connection (or reset it).
        public var closed: Bool
        /// Nothing happened for the whole timeout: neither an answer nor a close.
        public var stalled: Bool
        /// Bytes after the last complete response that are not one.
        public var garbage: Int
        /// The probe request sent after the expected answers was answered: the connection is alive and in step.
        public var probeAnswered: Bool
        /// Interim (1xx) statuses, in order.
        public var interim: [Int]
    }

    /// `headRequest`: the first request is a HEAD (its answer has no body).
    /// Sends `bytes` to 127.0.0.1:`port` (then shuts the sending side if `halfClose`) and reads until the server
    /// closes, `timeout` seconds pass without a byte, or `expected` responses came; then, when `probe` is given and
    /// the connection is still open, sends it and reads its answer.
    public static func exchange(
        port: Int, bytes: [UInt8], halfClose: Bool = false, expected: Int, probe: [UInt8]? = nil,
        headRequest: Bool = false, awaitClose: Bool = false, timeout: Double = 3
    ) throws -> Exchange {
        let socket = try TestSocket(port: port, timeout: timeout)
        try socket.sendRaw(bytes)
        if halfClose { socket.shutdownWrite() }
        var parser = ResponseStream(headRequest: headRequest)
        var stalled = false
        while parser.responses.count < expected || (expected == 0 && !socket.eof) {
            guard let chunk = socket.readChunk() else {
                stalled = !socket.eof
                break
            }
            parser.feed(chunk)
        }
        if parser.responses.count >= expected && !socket.eof && expected > 0 {
            // A response that closes the connection: its close follows at once.
            if awaitClose || parser.responses.last?.header("connection")?.lowercased() == "close" {
                // Like a client that read an answer saying `Connection: close`: done sending (a lingering server
                // then closes at once). Only then: a server that never said it would close must close by itself.
                if !halfClose, parser.responses.last?.header("connection")?.lowercased() == "close" { socket.shutdownWrite() }
                while !socket.eof, let chunk = socket.readChunk() { parser.feed(chunk) }
            }
        }
        var responses = parser.responses
        var probeAnswered = false
        if let probe, !socket.eof, !halfClose {
            if (try? socket.sendRaw(probe)) != nil {
                var probeParser = ResponseStream(headRequest: false)
                probeParser.pending = parser.pending
                while probeParser.responses.isEmpty, let chunk = socket.readChunk() { probeParser.feed(chunk) }
                if let answer = probeParser.responses.first {
                    probeAnswered = answer.header("x-probe") == "1"
                    if !probeAnswered { responses.append(contentsOf: probeParser.responses) }
                }
                parser.pending = probeParser.pending
            }
        }
        return Exchange(
            responses: responses, closed: socket.eof, stalled: stalled && !socket.eof, garbage: parser.pending.count,
            probeAnswered: probeAnswered, interim: parser.interim)
    }
}

/// Splits a byte stream into HTTP/1.1 responses (length, chunked, or until close).
struct ResponseStream {
    var responses: [RawHTTPClient.Response] = []
    var interim: [Int] = []
    var pending: [UInt8] = []
    let headRequest: Bool

    init(headRequest: Bool) { self.headRequest = headRequest }

    mutating func feed(_ bytes: [UInt8]) {
        pending.append(contentsOf: bytes)
        while let response = next() { responses.append(response) }
    }

    private mutating func next() -> RawHTTPClient.Response? {
        guard let headEnd = find([13, 10, 13, 10], in: pending, from: 0) else { return nil }
        let text = String(decoding: pending[..<headEnd], as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else { return nil }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " }))
        }
        var response = RawHTTPClient.Response(status: status, headers: headers, body: [])
        let bodyStart = headEnd + 4
        if status < 200 {
            pending.removeFirst(bodyStart)
            if status == 101 { return response }
            interim.append(status)
            return next()
        }
        if (headRequest && responses.isEmpty) || status == 204 || status == 304 {
            pending.removeFirst(bodyStart)
            return response
        }
        if let length = response.header("content-length").flatMap(Int.init) {
            guard pending.count >= bodyStart + length else { return nil }
            response.body = Array(pending[bodyStart..<bodyStart + length])
            pending.removeFirst(bodyStart + length)
            return response
        }
        if response.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            var cursor = bodyStart
            var body: [UInt8] = []
            while true {
                guard let lineEnd = find([13, 10], in: pending, from: cursor) else { return nil }
                let sizeText = String(decoding: pending[cursor..<lineEnd], as: UTF8.self).split(separator: ";")[0]
                guard let size = Int(sizeText, radix: 16) else { return nil }
                cursor = lineEnd + 2
                if size == 0 {
                    guard let end = find([13, 10], in: pending, from: cursor) else { return nil }
                    // Trailers, if any, end with an empty line.
                    var trailerEnd = end
                    while trailerEnd != cursor {
                        cursor = trailerEnd + 2
                        guard let next = find([13, 10], in: pending, from: cursor) else { return nil }
                        trailerEnd = next
                    }
                    response.body = body
                    pending.removeFirst(trailerEnd + 2)
                    return response
                }
                guard pending.count >= cursor + size + 2 else { return nil }
                body.append(contentsOf: pending[cursor..<cursor + size])
                cursor += size + 2
            }
        }
        return nil  // until close: not delivered as a complete response here
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && Array(haystack[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }
}
