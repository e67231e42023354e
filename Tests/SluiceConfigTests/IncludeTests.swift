import SluiceConfig
import Testing

/// `include = GLOB` against real files in a temporary folder.
@Suite struct IncludeTests {
    @Test func globIncludesFilesInSortedOrder() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        let main = folder.create(
            "sluice.ini", "[server]\nlisten = 8080\ninclude = conf.d/*.ini\n\n[route last]\nmatch = /z\nupstream = b\n")
        folder.create("conf.d/20-b.ini", "[upstream b]\nserver = 10.0.0.2:80\n[server]\nzone = az2\n")
        folder.create(
            "conf.d/10-a.ini", "; first\n[upstream a]\nserver = 10.0.0.1:80\n[route a]\nmatch = /a\nupstream = a\n")
        folder.create("conf.d/ignored.txt", "not ini at all")
        let config = try ConfigLoader.load(path: main)
        #expect(config.files == [main, folder.path + "/conf.d/10-a.ini", folder.path + "/conf.d/20-b.ini"])
        #expect(config.upstreams.map(\.name) == ["a", "b"])
        #expect(config.routes.map(\.name) == ["a", "last"])
        #expect(config.server.zone == "az2")
        #expect(config.upstreams[0].location == SourceLocation(file: folder.path + "/conf.d/10-a.ini", line: 2))
        #expect(
            config.upstreams[1].servers[0].location == SourceLocation(file: folder.path + "/conf.d/20-b.ini", line: 2))
    }

    @Test func errorsInIncludedFilesNameThatFileAndLine() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        let main = folder.create("sluice.ini", "[server]\nlisten = 8080\ninclude = extra/*.ini\nbogus = 1\n")
        let extra = folder.create("extra/u.ini", "[upstream u]\n\nserver = 10.0.0.1:80\nbalance = fast\n")
        do {
            _ = try ConfigLoader.load(path: main)
            Issue.record("expected errors")
        } catch {
            #expect(
                error.errors.map(\.location) == [
                    SourceLocation(file: main, line: 4), SourceLocation(file: extra, line: 4),
                ])
            #expect(error.errors.last?.section == "[upstream u]")
            #expect(error.errors.last?.key == "balance")
            #expect(
                error.description.split(separator: "\n").last?.hasPrefix(
                    "\(extra):4: [upstream u] balance: expected one of") == true)
        }
    }

    @Test func includeCycle() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        let main = folder.create("sluice.ini", "[server]\nlisten = 8080\ninclude = a.ini\n")
        let a = folder.create("a.ini", "[server]\ninclude = b.ini\n")
        folder.create("b.ini", "[server]\n\ninclude = ./sluice.ini\n")
        do {
            _ = try ConfigLoader.load(path: main)
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.count == 1)
            let cycle = try #require(error.errors.first)
            #expect(cycle.location == SourceLocation(file: folder.path + "/b.ini", line: 3))
            #expect(cycle.key == "include")
            #expect(
                cycle.message
                    == "include cycle: \(main) → \(a) → \(folder.path)/b.ini → \(folder.path)/./sluice.ini")
        }
    }

    @Test func fileIncludingItselfThroughAGlob() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        let main = folder.create("sluice.ini", "[server]\nlisten = 8080\ninclude = *.ini\n")
        do {
            _ = try ConfigLoader.load(path: main)
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.map(\.message) == ["include cycle: \(main) → \(main)"])
        }
    }

    @Test func missingLiteralIncludeIsAnErrorButAnEmptyGlobIsNot() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        let main = folder.create("sluice.ini", "[server]\nlisten = 8080\ninclude = none/*.ini\ninclude = missing.ini\n")
        do {
            _ = try ConfigLoader.load(path: main)
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.count == 1)
            #expect(error.errors.first?.location == SourceLocation(file: main, line: 4))
            #expect(
                error.errors.first?.message == "cannot read '\(folder.path)/missing.ini': No such file or directory")
        }
        folder.create("only-globs.ini", "[server]\nlisten = 8080\ninclude = none/*.ini\n")
        #expect(try ConfigLoader.load(path: folder.path + "/only-globs.ini").files.count == 1)
    }

    @Test func sameFileIncludedTwice() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        let main = folder.create("sluice.ini", "[server]\nlisten = 8080\ninclude = u.ini\ninclude = ./u.ini\n")
        folder.create("u.ini", "[upstream u]\nserver = 10.0.0.1:80\n")
        do {
            _ = try ConfigLoader.load(path: main)
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.map(\.location?.line) == [4])
            #expect(error.errors.first?.message.contains("is already included") == true)
        }
    }

    @Test func absoluteIncludeAndInMemoryText() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        let upstream = folder.create("u.ini", "[upstream u]\nserver = 10.0.0.1:80\n")
        let config = try ConfigLoader.parse("[server]\nlisten = 80\ninclude = \(upstream)\n")
        #expect(config.files == ["<memory>", upstream])
        #expect(config.upstreams.map(\.name) == ["u"])
    }
}
