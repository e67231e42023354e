import SluiceConfig
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The errors `text` produces as `sluice.ini`; empty when it loads.
func configErrors(_ text: String, file: String = "sluice.ini") -> [ConfigError] {
    do {
        _ = try ConfigLoader.parse(text, file: file)
        return []
    } catch {
        return error.errors
    }
}

/// The one error `text` produces; fails the test if there is not exactly one.
func singleError(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> ConfigError? {
    let errors = configErrors(text)
    #expect(errors.count == 1, "expected one error, got:\n\(ConfigErrors(errors))", sourceLocation: sourceLocation)
    return errors.first
}

/// The contents of the file at `path`, or nil if it cannot be opened.
func readFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// A minimal valid head: a server and one upstream. Line 1 is `[server]`; the next line after it is line 6.
let validHead = """
    [server]
    listen = 8080

    [upstream users]
    server = 10.0.0.1:80

    """

/// A fresh temporary folder (mkdtemp), removed with its files by `remove()`.
struct TemporaryFolder {
    let path: String

    init() {
        var template = Array("/tmp/sluice-config-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes `text` to `name` (creating subfolders) and returns its full path.
    @discardableResult
    func create(_ name: String, _ text: String) -> String {
        let full = path + "/" + name
        var folder = ""
        for part in name.split(separator: "/").dropLast() {
            folder += "/" + part
            mkdir(path + folder, 0o755)
        }
        let descriptor = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(descriptor >= 0, "cannot create \(full)")
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        return full
    }

    /// Removes the folder and everything in it.
    func delete() {
        Self.removeTree(path)
    }

    private static func removeTree(_ path: String) {
        guard let folder = opendir(path) else {
            unlink(path)
            return
        }
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { removeTree(path + "/" + name) }
        }
        closedir(folder)
        rmdir(path)
    }
}


