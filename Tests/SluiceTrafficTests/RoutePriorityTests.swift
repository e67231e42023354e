import Testing
@testable import SluiceTraffic
@Test func prioritiesOrder() { #expect(RoutePriority.optional < .normal && RoutePriority.normal < .core) }
