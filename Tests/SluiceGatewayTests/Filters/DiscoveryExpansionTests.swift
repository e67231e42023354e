import Logging
import NIOCore
import NIOEmbedded
import SluiceConfig
import SluiceDNS
import Testing

@testable import SluiceGateway

/// How `resolve` servers become servers: one per address, with the line's options, SRV ports and weights.
@Suite struct DiscoveryExpansionTests {
    let discovery = UpstreamDiscovery(
        client: DNSClient(nameservers: [], group: EmbeddedEventLoop()), eventLoop: EmbeddedEventLoop(),
        logger: Logger(label: "test"))

    func config() throws -> GatewayConfig {
        try ConfigLoader.parse("""
            [server]
            listen = 8080

            [upstream users]
            server = 10.0.0.1:80
            server = users.internal:8081 zone=az1 weight=3 resolve
            server = _users._tcp.internal srv resolve

            """)
    }

    @Test func namesWithoutAnswersHaveNoServers() throws {
        let expanded = discovery.expand(try config())
        #expect(expanded.upstreams[0].servers.map(\.address) == ["10.0.0.1:80"])
        #expect(UpstreamDiscovery.names(try config()).count == 2)
    }

    @Test func addressesBecomeServersWithTheLinesOptions() throws {
        discovery.record(
            [.init(host: "10.1.0.1", port: nil, weight: nil, backup: false),
             .init(host: "10.1.0.2", port: nil, weight: nil, backup: false)],
            for: .init(host: "users.internal", srv: false))
        discovery.record(
            [.init(host: "10.2.0.1", port: 9000, weight: 7, backup: false),
             .init(host: "10.2.0.2", port: 9001, weight: 1, backup: true),
             .init(host: "10.1.0.1", port: 8081, weight: 1, backup: false)],
            for: .init(host: "_users._tcp.internal", srv: true))
        let servers = discovery.expand(try config()).upstreams[0].servers
        #expect(servers.map(\.address) == ["10.0.0.1:80", "10.1.0.1:8081", "10.1.0.2:8081", "10.2.0.1:9000", "10.2.0.2:9001"],
                "an address two names give is one server")
        #expect(servers[1].zone == "az1" && servers[1].weight == 3 && !servers[1].resolve)
        #expect(servers[3].weight == 7 && !servers[3].backup)
        #expect(servers[4].backup, "an SRV record of a higher priority is a backup")
    }
}
