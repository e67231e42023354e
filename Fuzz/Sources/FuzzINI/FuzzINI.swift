import SluiceConfig

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer target for the configuration: arbitrary bytes, read as UTF-8 with lossy decoding, through `INIParser`
// and `ConfigLoader`.
//
// Invariants: no crash or trap; the parser places every entry and error on a line that exists; the loader either
// returns a config with a listen address or throws a non-empty list of errors, each in the file, on a line that
// exists, sorted by line.
//
// Inputs that mention `include` or `file=` go through the parser only: includes and `fallback = file=...` read real
// files (globs included), and a fuzzer that names `/dev/zero` or `/proc/*` would fuzz the machine, not the loader.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lineCount = text.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    let file = "/nonexistent/sluice-fuzz/fuzz.ini"

    let document = INIParser.parse(text, file: file)
    for section in document.sections {
        guard (1...lineCount).contains(section.location.line) else { fail("section at line \(section.location.line) of \(lineCount)") }
        for entry in section.entries where !(1...lineCount).contains(entry.location.line) {
            fail("entry \(entry.key) at line \(entry.location.line) of \(lineCount)")
        }
    }
    for error in document.errors {
        guard let line = error.location?.line, (1...lineCount).contains(line) else { fail("parser error off the file: \(error)") }
    }

    if text.contains("include") || text.contains("file=") { return 0 }
    do {
        let config = try ConfigLoader.parse(text, file: file)
        if config.server.listen.isEmpty { fail("a config without a listen address loaded") }
    } catch {
        if error.errors.isEmpty { fail("an empty error list was thrown") }
        for problem in error.errors {
            guard problem.location?.file == file else { fail("an error in no file: \(problem)") }
            guard let line = problem.location?.line, (0...lineCount).contains(line) else {
                fail("an error on line \(problem.location?.line ?? -1) of \(lineCount): \(problem)")
            }
        }
        let lines = error.errors.compactMap(\.location?.line)
        if lines != lines.sorted() { fail("errors out of line order: \(error)") }
    }
    return 0
}

func fail(_ message: String) -> Never {
    var text = "FuzzINI invariant failed: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    fatalError(message)
}
