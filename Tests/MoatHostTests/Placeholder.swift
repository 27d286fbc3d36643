import Testing

@Suite struct MoatHostTestsPlaceholder {
    @Test func builds() { #expect(Bool(true)) }
}
