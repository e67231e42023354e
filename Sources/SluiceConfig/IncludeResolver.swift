/// Reads a main file and, depth first, the files its `include = GLOB` lines name, into one `INIDocument`.
///
/// `include` is allowed only in `[server]` (in any file: an included file's `[server]` merges with the main one). A
/// pattern is relative to the folder of the file that holds it; its matches are read in sorted order, and the
/// sections of each follow the `[server]` section that included them. A pattern with glob characters that matches
/// nothing is fine (an empty `conf.d/` is normal); a literal path that does not exist is an error, as is a file that
/// includes itself through any chain, or a file included twice.
struct IncludeResolver {
    private var sections: [INISection] = []
    private var files: [String] = []
    private var errors: [ConfigError] = []
    /// Every file read so far, by canonical path, with the name it was read under.
    private var read: [String: String] = [:]

    /// The document for `text`, the contents of `file`, with all its includes.
    mutating func document(_ text: String, file: String) -> INIDocument {
        expand(text, file: file, chain: [file], identity: FileSystem.canonicalPath(file) ?? file)
        return INIDocument(sections: sections, files: files, errors: errors)
    }

    /// `chain` is the include path from the main file down to `file`, for cycle messages.
    private mutating func expand(_ text: String, file: String, chain: [String], identity: String) {
        files.append(file)
        read[identity] = file
        let document = INIParser.parse(text, file: file)
        errors += document.errors
        for section in document.sections {
            sections.append(section)
            for entry in section.entries where entry.key == "include" {
                guard section.kind == SectionKind.server.rawValue else {
                    errors.append(failure(entry, section, "include is only allowed in [server]"))
                    continue
                }
                for path in paths(for: entry, in: section, file: file) {
                    include(path, from: entry, in: section, chain: chain)
                }
            }
        }
    }

    /// The files an `include` entry names, sorted; errors for an empty or unexpandable pattern.
    private mutating func paths(for entry: INIEntry, in section: INISection, file: String) -> [String] {
        let pattern = entry.value
        guard !pattern.isEmpty else {
            errors.append(
                failure(entry, section, ValueError(expected: "a file or glob like conf.d/*.ini", got: "").description))
            return []
        }
        let path = FileSystem.path(pattern, relativeToFolderOf: file)
        guard FileSystem.isGlob(pattern) else { return [path] }
        do {
            return try FileSystem.expandGlob(path)
        } catch {
            errors.append(failure(entry, section, "'\(path)': \(error.message)"))
            return []
        }
    }

    private mutating func include(_ path: String, from entry: INIEntry, in section: INISection, chain: [String]) {
        let identity = FileSystem.canonicalPath(path) ?? path
        if let index = chain.firstIndex(where: { (FileSystem.canonicalPath($0) ?? $0) == identity }) {
            let cycle = (chain[index...] + [path]).joined(separator: " → ")
            errors.append(failure(entry, section, "include cycle: \(cycle)"))
            return
        }
        if let earlier = read[identity] {
            errors.append(failure(entry, section, "'\(path)' is already included (as '\(earlier)'); include it once"))
            return
        }
        let text: String
        do {
            text = try FileSystem.readText(path)
        } catch {
            errors.append(failure(entry, section, "cannot read '\(path)': \(error.message)"))
            return
        }
        expand(text, file: path, chain: chain + [path], identity: identity)
    }

    private func failure(_ entry: INIEntry, _ section: INISection, _ message: String) -> ConfigError {
        ConfigError(location: entry.location, section: section.header, key: entry.key, message: message)
    }
}
