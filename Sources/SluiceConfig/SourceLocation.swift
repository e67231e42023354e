/// Where something was written: a file and a 1-based line. Line 0 stands for the file as a whole (it cannot be read,
/// or something it lacks has no line of its own).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    /// The path as the loader opened it: the main file as given, included files joined to their includer's folder.
    public var file: String
    /// 1-based; 0 for the file as a whole.
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    /// `file:line`, the form editors and terminals turn into links.
    public var description: String { "\(file):\(line)" }
}
