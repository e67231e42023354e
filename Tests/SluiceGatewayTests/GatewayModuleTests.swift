import SluiceGateway
import Testing

@Suite struct GatewayModuleTests {
    @Test func versionIsSet() {
        #expect(!Sluice.version.isEmpty)
    }
}
