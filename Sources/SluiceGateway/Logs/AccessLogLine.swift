import NIOHTTP1
import SluiceConfig
import SluiceServer

/// What the access log says about one request.
struct AccessLogEntry {
    var client: String?
    var method: String
    var uri: String
    var version: HTTPVersion
    var status: UInt
    /// Request body bytes received, and answer body bytes sent.
    var bytesIn = 0
    var bytesOut = 0
    var referer: String?
    var userAgent: String?
    /// From the request's head to the end of its answer.
    var seconds: Double
    /// Time spent waiting on upstreams (every try); nil when none was asked.
    var upstreamSeconds: Double?
    var route: String?
    /// The last upstream server tried, and its zone.
    var upstream: String?
    var zone: String?
    var requestID: String?
    /// Who `auth` said the caller is (combined's `$remote_user`).
    var identity: String?
    /// The W3C trace id passed upstream in `traceparent`.
    var traceID: Substring?
    var gates = GateMarks()
    /// Tries after the first.
    var retries = 0
}

/// Formats entries into bytes: nginx's `combined` plus `key=value` fields, or one JSON object per line.
/// Client-controlled text can never break or forge a line.
enum AccessLogLine {
    static func append(_ entry: AccessLogEntry, format: AccessLogFormat, to line: inout [UInt8]) {
        switch format {
        case .combined: appendCombined(entry, to: &line)
        case .json: appendJSON(entry, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
    }

    ///     127.0.0.1 - - [04/Dec/2026:16:13:08 +0000] "GET /ping HTTP/1.1" 200 18 "-" "curl/7.88.1" 0.001
    ///     route=all upstream=10.0.1.10:8081 zone=az1 upstream_time=0.001 bytes_in=0 request_id=… trace_id=…
    ///     gates=- retries=0
    static func appendCombined(_ entry: AccessLogEntry, to line: inout [UInt8]) {
        line.append(contentsOf: (entry.client ?? "-").utf8)
        line.append(contentsOf: " - ".utf8)
        if let identity = entry.identity, !identity.isEmpty {
            AccessLog.appendEscaped(identity.contains(" ") ? identity.replacing(" ", with: "_") : identity, to: &line)
        } else {
            line.append(UInt8(ascii: "-"))
        }
        line.append(contentsOf: " [".utf8)
        line.append(contentsOf: HTTPDate.nowForLog().utf8)
        line.append(contentsOf: "] \"".utf8)
        AccessLog.appendEscaped(entry.method, to: &line)
        line.append(UInt8(ascii: " "))
        AccessLog.appendEscaped(entry.uri, to: &line)
        AccessLog.appendVersion(entry.version, to: &line)
        line.append(contentsOf: "\" ".utf8)
        line.append(contentsOf: String(entry.status).utf8)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: String(entry.bytesOut).utf8)
        line.append(contentsOf: " \"".utf8)
        AccessLog.appendEscaped(entry.referer ?? "-", to: &line)
        line.append(contentsOf: "\" \"".utf8)
        AccessLog.appendEscaped(entry.userAgent ?? "-", to: &line)
        line.append(contentsOf: "\" ".utf8)
        AccessLog.appendSeconds(entry.seconds, to: &line)
        field(" route=", entry.route, to: &line)
        field(" upstream=", entry.upstream, to: &line)
        field(" zone=", entry.zone, to: &line)
        line.append(contentsOf: " upstream_time=".utf8)
        if let seconds = entry.upstreamSeconds { AccessLog.appendSeconds(seconds, to: &line) } else { line.append(UInt8(ascii: "-")) }
        line.append(contentsOf: " bytes_in=".utf8)
        line.append(contentsOf: String(entry.bytesIn).utf8)
        field(" request_id=", entry.requestID, to: &line)
        line.append(contentsOf: " trace_id=".utf8)
        line.append(contentsOf: (entry.traceID ?? "-").utf8)
        line.append(contentsOf: " gates=".utf8)
        line.append(contentsOf: entry.gates.text.utf8)
        line.append(contentsOf: " retries=".utf8)
        line.append(contentsOf: String(entry.retries).utf8)
    }

    /// A `key=value` field whose value may come from the client (escaped) or be absent (`-`).
    private static func field(_ key: String, _ value: String?, to line: inout [UInt8]) {
        line.append(contentsOf: key.utf8)
        AccessLog.appendEscaped(value ?? "-", to: &line)
    }

    ///     {"time": "2026-12-04T16:13:08Z", "client": "127.0.0.1", "method": "GET", "path": "/ping", ...}
    static func appendJSON(_ entry: AccessLogEntry, to line: inout [UInt8]) {
        line.append(contentsOf: #"{"time":""#.utf8)
        line.append(contentsOf: HTTPDate.nowISO().utf8)
        line.append(UInt8(ascii: "\""))
        string("client", entry.client, to: &line)
        string("method", entry.method, to: &line)
        string("path", entry.uri, to: &line)
        line.append(contentsOf: #","protocol":"#.utf8)
        var version: [UInt8] = []
        AccessLog.appendVersion(entry.version, to: &version)
        line.append(UInt8(ascii: "\""))
        line.append(contentsOf: version.dropFirst())
        line.append(UInt8(ascii: "\""))
        number("status", String(entry.status), to: &line)
        number("bytes_in", String(entry.bytesIn), to: &line)
        number("bytes_out", String(entry.bytesOut), to: &line)
        line.append(contentsOf: #","duration":"#.utf8)
        AccessLog.appendSeconds(entry.seconds, to: &line)
        line.append(contentsOf: #","upstream_duration":"#.utf8)
        if let seconds = entry.upstreamSeconds { AccessLog.appendSeconds(seconds, to: &line) } else { line.append(contentsOf: "null".utf8) }
        string("route", entry.route, to: &line)
        string("upstream_server", entry.upstream, to: &line)
        string("zone", entry.zone, to: &line)
        string("request_id", entry.requestID, to: &line)
        string("identity", entry.identity, to: &line)
        string("trace_id", entry.traceID.map(String.init), to: &line)
        string("referer", entry.referer, to: &line)
        string("user_agent", entry.userAgent, to: &line)
        line.append(contentsOf: #","gates":["#.utf8)
        var first = true
        for (mark, name) in GateMarks.names where entry.gates.contains(mark) {
            if !first { line.append(UInt8(ascii: ",")) }
            first = false
            line.append(UInt8(ascii: "\""))
            line.append(contentsOf: name.utf8)
            line.append(UInt8(ascii: "\""))
        }
        line.append(UInt8(ascii: "]"))
        number("retries", String(entry.retries), to: &line)
        line.append(UInt8(ascii: "}"))
    }

    private static func number(_ key: String, _ value: String, to line: inout [UInt8]) {
        line.append(contentsOf: ",\"".utf8)
        line.append(contentsOf: key.utf8)
        line.append(contentsOf: "\":".utf8)
        line.append(contentsOf: value.utf8)
    }

    /// `,"key":"value"` (escaped as JSON), or `,"key":null`.
    private static func string(_ key: String, _ value: String?, to line: inout [UInt8]) {
        line.append(contentsOf: ",\"".utf8)
        line.append(contentsOf: key.utf8)
        line.append(contentsOf: "\":".utf8)
        guard let value else {
            line.append(contentsOf: "null".utf8)
            return
        }
        line.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                line.append(UInt8(ascii: "\\"))
                line.append(byte)
            case 0..<0x20, 0x7F:
                line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default:
                line.append(byte)
            }
        }
        line.append(UInt8(ascii: "\""))
    }
}
