import SluiceConfig
import Testing

@Suite struct INIParserTests {
    /// `(key, value)` pairs of the one section in `text`.
    func pairs(_ text: String) -> [String] {
        let document = INIParser.parse(text, file: "t.ini")
        #expect(document.errors.isEmpty, "\(document.errors)")
        return document.sections.flatMap(\.entries).map { "\($0.key)=\($0.value)" }
    }

    @Test func sectionsAndEntriesKeepTheirPlace() {
        let document = INIParser.parse("[server]\nlisten = 1\n\n[route users]\nmatch = /x\n", file: "a.ini")
        #expect(document.errors.isEmpty)
        #expect(document.files == ["a.ini"])
        #expect(
            document.sections == [
                INISection(
                    kind: "server", name: nil, location: SourceLocation(file: "a.ini", line: 1),
                    entries: [INIEntry(key: "listen", value: "1", location: SourceLocation(file: "a.ini", line: 2))]),
                INISection(
                    kind: "route", name: "users", location: SourceLocation(file: "a.ini", line: 4),
                    entries: [INIEntry(key: "match", value: "/x", location: SourceLocation(file: "a.ini", line: 5))]),
            ])
        #expect(document.sections[1].header == "[route users]")
        #expect(document.sections[0].header == "[server]")
    }

    @Test func comments() {
        let text = """
            ; a comment
            # another
               ; indented
            [s] ; after a header
            a = b ; trailing
            c = d # trailing hash
            e = f;g
            h = i#j
            k = l ;m ; n
            o =
            p = ;only a comment
            q=r
            """
        #expect(pairs(text) == ["a=b", "c=d", "e=f;g", "h=i#j", "k=l", "o=", "p=", "q=r"])
    }

    @Test func quotedValues() {
        let text = #"""
            [s]
            a = "  spaced  "
            b = "x ; y # z" ; comment
            c = "say \"hi\" \\ done"
            d = ""
            e = "back\slash"
            f = 200 application/json {"tag":"#1 ; x"} ; comment
            g = "unclosed "quote" inside
            """#
        let document = INIParser.parse(text, file: "q.ini")
        #expect(
            document.sections.first?.entries.map(\.value) == [
                "  spaced  ", "x ; y # z", #"say "hi" \ done"#, "", #"back\slash"#,
                ##"200 application/json {"tag":"#1 ; x"}"##,
            ])
        #expect(document.errors.map(\.location?.line) == [8])
        #expect(document.errors.first?.key == "g")
        #expect(document.errors.first?.message.contains("after the closing quote") == true)
    }

    @Test func unterminatedQuote() {
        let document = INIParser.parse("[s]\na = \"open ; x\n", file: "q.ini")
        #expect(document.errors.count == 1)
        #expect(document.errors.first?.description == #"q.ini:2: [s] a: the quoted value has no closing '"'"#)
    }

    @Test func crlfAndBOM() {
        let text = "\u{FEFF}[server]\r\nlisten = 8080\r\n\r\n[upstream u]\r\nserver = 10.0.0.1:80 ; c\r\n"
        #expect(pairs(text) == ["listen=8080", "server=10.0.0.1:80"])
        let config = try? ConfigLoader.parse(text)
        #expect(config?.server.listen == [ListenAddress(host: "0.0.0.0", port: 8080)])
        #expect(config?.upstreams.first?.location.line == 4)
    }

    @Test func repeatedKeysBuildListsInOrder() {
        let document = INIParser.parse("[s]\nx = 1\ny = 2\nx = 3\nx = 1\n", file: "r.ini")
        let section = document.sections[0]
        #expect(section.entries("x").map(\.value) == ["1", "3", "1"])
        #expect(section.entries("x").map(\.location.line) == [2, 4, 5])
    }

    @Test func whitespaceAroundKeysAndValues() {
        #expect(pairs("[ route  a ]\n\t key\t=\t value with  inner  space \t\n") == ["key=value with  inner  space"])
        #expect(INIParser.parse("[ route  a ]", file: "w").sections.first?.header == "[route a]")
    }

    @Test(arguments: [
        ("just words", "expected 'key = value', a [section] header or a comment, got 'just words'"),
        (
            "[server",
            "expected a section header like [server], [upstream NAME] or [route NAME]; the closing ']' is missing"
        ),
        ("[]", "expected a section header like [server], [upstream NAME] or [route NAME], got '[]'"),
        ("[route a b]", "expected a section header like [server], [upstream NAME] or [route NAME], got '[route a b]'"),
        (
            "[route a/b]",
            "'a/b' in '[route a/b]': section kinds and names may only hold letters, digits, '_', '.' and '-'"
        ),
        ("[server] x", "unexpected text after ']': 'x'"),
        ("= value", "expected a key before '='"),
        ("Listen = 1", "keys are lowercase: did you mean 'listen'?"),
        ("max-body = 1", "invalid key 'max-body': keys are lowercase letters, digits and '_'"),
    ])
    func badLines(line: String, message: String) {
        let document = INIParser.parse("[server]\n\(line)\n", file: "b.ini")
        #expect(document.errors.count == 1)
        #expect(document.errors.first?.location == SourceLocation(file: "b.ini", line: 2))
        #expect(document.errors.first?.message == message)
        // Errors inside a section name it; a bad header belongs to no section.
        #expect(document.errors.first?.section == (line.hasPrefix("[") ? nil : "[server]"))
    }

    @Test func keyBeforeAnySection() {
        let document = INIParser.parse("; header comment\nlisten = 8080\n[server]\n", file: "k.ini")
        #expect(document.errors.count == 1)
        #expect(
            document.errors.first?.description
                == "k.ini:2: listen: a key outside any section; put it under [server], [upstream NAME] or [route NAME]")
    }

    @Test func entriesUnderABadHeaderAreNotReportedAgain() {
        let document = INIParser.parse("[route a/b]\nmatch = /x\nnonsense = 1\n[server]\nlisten = 1\n", file: "h.ini")
        #expect(document.errors.map(\.location?.line) == [1])
        #expect(document.sections.map(\.header) == ["[server]"])
    }

    @Test func emptyAndBlankText() {
        #expect(INIParser.parse("", file: "e").sections.isEmpty)
        #expect(INIParser.parse("\n \n\t\n", file: "e").errors.isEmpty)
        #expect(
            configErrors("").map(\.description) == [
                "sluice.ini: [server] missing; a config needs a [server] section with at least one "
                    + "'listen = 0.0.0.0:8080'"
            ])
    }
}
