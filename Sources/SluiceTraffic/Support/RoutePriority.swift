/// How important a route is when the gateway must shed load: `optional` routes go first, then `normal`; `core`
/// routes are shed last (only by hard limits). Ordered so that `optional < normal < core`.
public enum RoutePriority: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case optional = 0
    case normal = 1
    case core = 2

    public init?(text: String) {
        switch text.lowercased() {
        case "optional": self = .optional
        case "normal": self = .normal
        case "core": self = .core
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .optional: "optional"
        case .normal: "normal"
        case .core: "core"
        }
    }

    public static func < (lhs: RoutePriority, rhs: RoutePriority) -> Bool { lhs.rawValue < rhs.rawValue }
}
