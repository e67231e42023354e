public import Logging
import NIOCore

/// Logs one line per answered request through swift-log, when the answer is handed to the connection:
/// method, path, status, bytes, duration, client and request id.
public func AccessLog(logger: Logger, level: Logger.Level = .info) -> Handler {
    { c in
        c.onFinish { c in
            let micros = (NIODeadline.now() - c.startTime).nanoseconds / 1_000
            var metadata: Logger.Metadata = [
                "method": "\(c.method.rawValue)",
                "path": "\(c.path)",
                "status": "\(c.responseStatus.code)",
                "bytes": "\(c.responseBody?.readableBytes ?? 0)",
                "duration_us": "\(micros)",
            ]
            if let client = c.clientIP { metadata["client"] = "\(client)" }
            if let id = c.requestID { metadata["request_id"] = "\(id)" }
            logger.log(level: level, "request", metadata: metadata)
        }
        try c.next()
    }
}
