/// Facts about this build of Sluice.
public enum Sluice {
    /// The release version, printed by `sluiced --version`.
    public static let version = "0.1.0"
}
