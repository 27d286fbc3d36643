import MoatConfig
import Testing

@Suite("GitHub Actions annotations")
struct GitHubAnnotationTests {
    @Test("one workflow command per diagnostic, error or warning, with file, line and column")
    func annotations() {
        let diagnostics = [
            Diagnostic(path: "networks.lab.dhcp.range", message: "not a range", file: "hosts/moat.yaml", line: 7, column: 14),
            Diagnostic(severity: .warning, path: "networks.lab.allow[0]", message: "has no effect", file: "moat.yaml", line: 9, column: 9),
        ]
        #expect(
            DiagnosticPrinter.github(diagnostics) == """
                ::error file=hosts/moat.yaml,line=7,col=14::networks.lab.dhcp.range: not a range
                ::warning file=moat.yaml,line=9,col=9::networks.lab.allow[0]: has no effect

                """)
    }

    @Test("a file-level problem names the file alone")
    func fileLevel() {
        let diagnostic = Diagnostic(path: "", message: "cannot read: no such file", file: "moat.yaml", line: 0, column: 0)
        #expect(DiagnosticPrinter.github([diagnostic]) == "::error file=moat.yaml::cannot read: no such file\n")
    }

    @Test("the message escapes %, CR and LF; properties also : and ,")
    func escaping() {
        let diagnostic = Diagnostic(path: "a", message: "100% sure\r\nnext: a,b", file: "C:/x,y%.yaml", line: 1, column: 2)
        #expect(
            DiagnosticPrinter.github([diagnostic])
                == "::error file=C%3A/x%2Cy%25.yaml,line=1,col=2::a: 100%25 sure%0D%0Anext: a,b\n")
        #expect(DiagnosticPrinter.escapeProperty("a\nb") == "a%0Ab")
    }

    @Test("no diagnostics, no output")
    func empty() {
        #expect(DiagnosticPrinter.github([]) == "")
    }
}
