#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
public import SluiceRouter
import SluiceServer

extension RouterGroup {
    /// Serves the files under `root` at `prefix` (Gin's `Static`): `GET`/`HEAD prefix/*filepath`, sent with
    /// `sendfile` on plain connections, with `ETag` and `Last-Modified` (`If-None-Match`/`If-Modified-Since` give
    /// 304), single byte ranges (206, 416), and the type from the extension. Paths with `..` or NUL, directories and
    /// anything that is not a regular file get 404; a directory's `index.html` is served for it.
    public func staticFiles(_ prefix: String, root: String) throws(RouterError) {
        let root = root.hasSuffix("/") ? String(root.dropLast()) : root
        let handler: AsyncHandler = { c in try await StaticFile.serve(c, root: root) }
        let pattern = (prefix.hasSuffix("/") ? prefix : prefix + "/") + "*filepath"
        try handle("GET", pattern, [.async(handler)])
        try handle("HEAD", pattern, [.async(handler)])
    }
}

enum StaticFile {
    static let io = NonBlockingFileIO(threadPool: .singleton)

    static func serve(_ c: Context, root: String) async throws {
        let relative = c.param("filepath") ?? ""
        let segments = relative.split(separator: "/", omittingEmptySubsequences: true)
        guard !relative.contains("\0"), !segments.contains(where: { $0 == ".." || $0 == "." }) else {
            c.text(.notFound, "404 page not found\n")
            return
        }
        var path = root + "/" + segments.joined(separator: "/")
        var opened = try? await io.openFile(_deprecatedPath: path, eventLoop: c.eventLoop).get()
        if let (handle, _) = opened, let info = try? stat(handle), info.st_mode & S_IFMT == S_IFDIR {
            try? handle.close()
            path += "/index.html"
            opened = try? await io.openFile(_deprecatedPath: path, eventLoop: c.eventLoop).get()
        }
        guard let (handle, _) = opened, let info = try? stat(handle), info.st_mode & S_IFMT == S_IFREG else {
            if let (handle, _) = opened { try? handle.close() }
            c.text(.notFound, "404 page not found\n")
            return
        }
        let size = Int(info.st_size)
        let modified = Int(info.st_mtim.tv_sec)
        let etag = "\"\(String(modified, radix: 16))-\(String(size, radix: 16))\""
        let lastModified = HTTPDate.format(epochSeconds: modified)
        c.setHeader("etag", etag)
        c.setHeader("last-modified", lastModified)
        c.setHeader("accept-ranges", "bytes")
        if Conditional.notModified(c.headers, etag: etag, lastModified: lastModified) {
            try? handle.close()
            c.status(.notModified)
            return
        }
        let name = path.split(separator: "/").last ?? ""
        let ext = name.lastIndex(of: ".").map { name[name.index(after: $0)...] } ?? ""
        c.setHeader("content-type", MediaTypes.forExtension(ext))
        var range: ClosedRange<Int>? = nil
        if let header = c.header("range"), Conditional.ifRangeAllows(c.header("if-range"), etag: etag, lastModified: lastModified) {
            switch ByteRange.decide(header[...], length: size) {
            case .full: break
            case .partial(let r): range = r
            case .unsatisfiable:
                try? handle.close()
                c.setHeader("content-range", "bytes */\(size)")
                c.errorAnswer(.rangeNotSatisfiable, "the range is outside the file")
                return
            }
        }
        let region: FileRegion
        if let range {
            c.responseStatus = .partialContent
            c.setHeader("content-range", "bytes \(range.lowerBound)-\(range.upperBound)/\(size)")
            region = FileRegion(fileHandle: handle, readerIndex: range.lowerBound, endIndex: range.upperBound + 1)
        } else {
            c.responseStatus = .ok
            region = FileRegion(fileHandle: handle, readerIndex: 0, endIndex: size)
        }
        c.responseBody = nil
        c.responseFile = FileBody(handle: handle, region: region)
    }

    private static func stat(_ handle: NIOFileHandle) throws -> stat {
        try handle.withUnsafeFileDescriptor { descriptor in
            var info = Glibc.stat()
            guard fstat(descriptor, &info) == 0 else { throw IOError(errnoCode: errno, reason: "fstat") }
            return info
        }
    }
}

/// RFC 9110 §13 validators for static files.
enum Conditional {
    /// Whether the request's validators say the client's copy is current (§13.2.2: `If-None-Match` wins over
    /// `If-Modified-Since`, compared weakly).
    static func notModified(_ headers: HTTPHeaders, etag: String, lastModified: String) -> Bool {
        let noneMatch = headers[canonicalForm: "if-none-match"]
        if !noneMatch.isEmpty {
            return noneMatch.contains { tag in
                let tag = tag.hasPrefix("W/") ? tag.dropFirst(2) : tag[...]
                return tag == "*" || tag == etag[...]
            }
        }
        if let since = headers.first(name: "if-modified-since") {
            guard let given = HTTPDate.parse(since), let current = HTTPDate.parse(lastModified) else { return false }
            return current <= given
        }
        return false
    }

    /// `If-Range` (§13.1.5): the range applies when the validator matches exactly (a strong ETag, or the date).
    static func ifRangeAllows(_ ifRange: String?, etag: String, lastModified: String) -> Bool {
        guard let ifRange else { return true }
        return ifRange == etag || ifRange == lastModified
    }
}

/// RFC 9110 §14.2 `Range: bytes=…` for one range. Several ranges are answered whole (no multipart/byteranges).
enum ByteRange: Equatable {
    case full
    case partial(ClosedRange<Int>)
    case unsatisfiable

    static func decide(_ header: Substring, length: Int) -> ByteRange {
        var text = header.drop { $0 == " " }
        guard text.lowercased().hasPrefix("bytes=") else { return .full }
        text = text.dropFirst(6)
        let specs = text.split(separator: ",", omittingEmptySubsequences: false)
        guard specs.count == 1 else { return .full }
        let spec = specs[0].trimmingSpaces
        guard let dash = spec.firstIndex(of: "-") else { return .full }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        guard first.allSatisfy(\.isASCIIDigit), last.allSatisfy(\.isASCIIDigit), first.count <= 18, last.count <= 18 else {
            return .full
        }
        if first.isEmpty {
            guard let suffix = Int(last), !last.isEmpty else { return .full }
            guard suffix > 0, length > 0 else { return .unsatisfiable }
            return .partial(max(length - suffix, 0)...(length - 1))
        }
        guard let start = Int(first) else { return .full }
        let end = last.isEmpty ? length - 1 : (Int(last) ?? -1)
        guard last.isEmpty || end >= start else { return .full }
        guard start < length else { return .unsatisfiable }
        return .partial(start...min(end, length - 1))
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// Content types by file extension, for static files.
enum MediaTypes {
    static let table: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "json": "application/json", "txt": "text/plain; charset=utf-8", "xml": "application/xml",
        "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon", "woff": "font/woff", "woff2": "font/woff2",
        "wasm": "application/wasm", "pdf": "application/pdf", "map": "application/json", "mp4": "video/mp4",
        "webm": "video/webm", "mp3": "audio/mpeg", "zip": "application/zip", "gz": "application/gzip",
    ]

    static func forExtension(_ ext: Substring) -> String { table[ext.lowercased()] ?? "application/octet-stream" }
}
