#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file operations the loader needs, on the C library directly: the module stays free of Foundation.
/// Public for what the gateway reads beside the configuration (auth key files, resolv.conf).
public enum FileSystem {
    /// Why a file could not be read, in the C library's words (`No such file or directory`).
    public struct Failure: Error, CustomStringConvertible {
        let message: String

        public var description: String { message }

        init(_ message: String) {
            self.message = message
        }

        init(errno code: Int32) {
            self.message = String(cString: strerror(code))
        }
    }

    /// Why files cannot be created in `folder` (it is missing, not a folder, or not writable), or nil.
    static func writableFolderProblem(_ folder: String) -> String? {
        var info = stat()
        guard stat(folder, &info) == 0 else { return "cannot be used (\(String(cString: strerror(errno))))" }
        guard info.st_mode & S_IFMT == S_IFDIR else { return "is not a folder" }
        guard access(folder, W_OK) == 0 else { return "is not writable" }
        return nil
    }

    /// The whole file as text. Invalid UTF-8 is replaced (U+FFFD) rather than refused: the parser then reports the
    /// line it lands on, which says more than "not UTF-8".
    public static func readText(_ path: String) throws(Failure) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(errno: errno) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Failure(errno: errno) }
        if info.st_mode & S_IFMT == S_IFDIR { throw Failure("it is a directory") }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(errno: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The canonical absolute path (symbolic links resolved), or nil if the file does not exist: used to tell whether
    /// two include paths are the same file.
    static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The files (not directories) `pattern` matches, sorted; empty when it matches nothing.
    static func expandGlob(_ pattern: String) throws(Failure) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        // GLOB_MARK appends '/' to directories, so they can be left out.
        let status = glob(pattern, GLOB_MARK, nil, &result)
        if status == GLOB_NOMATCH { return [] }
        guard status == 0 else { throw Failure("the pattern could not be expanded (glob error \(status))") }
        var paths: [String] = []
        for index in 0..<Int(result.gl_pathc) {
            guard let path = result.gl_pathv[index] else { continue }
            let text = String(cString: path)
            if !text.hasSuffix("/") { paths.append(text) }
        }
        return paths.sorted()
    }

    /// Whether `pattern` has glob characters; a path without them must exist.
    static func isGlob(_ pattern: String) -> Bool {
        pattern.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    /// `pattern` relative to the folder that holds `file` (unchanged when absolute, or when `file` has no folder).
    static func path(_ pattern: String, relativeToFolderOf file: String) -> String {
        guard !pattern.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return pattern }
        return String(file[...slash]) + pattern
    }
}
