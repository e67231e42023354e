/// Loads a configuration: reads the main file and its includes, parses, validates, and either returns the
/// `GatewayConfig` or throws every error found, sorted by file and line.
public enum ConfigLoader {
    /// Reads the file at `path` and everything it includes.
    public static func load(path: String) throws(ConfigErrors) -> GatewayConfig {
        let text: String
        do {
            text = try FileSystem.readText(path)
        } catch {
            throw ConfigErrors([
                ConfigError(
                    location: SourceLocation(file: path, line: 0), message: "cannot read the file: \(error.message)")
            ])
        }
        return try parse(text, file: path)
    }

    /// Parses `text` as the contents of `file`; includes are resolved relative to `file`'s folder (the working
    /// directory when it has none, as for the default `<memory>`).
    public static func parse(_ text: String, file: String = "<memory>") throws(ConfigErrors) -> GatewayConfig {
        var resolver = IncludeResolver()
        let document = resolver.document(text, file: file)
        var validator = ConfigValidator()
        let config = validator.validate(document)
        var errors = ConfigErrors(document.errors + validator.errors)
        guard errors.errors.isEmpty else {
            errors.sort(files: document.files)
            throw errors
        }
        return config
    }
}
