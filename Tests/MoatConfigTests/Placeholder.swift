import Testing

@Suite struct MoatConfigTestsPlaceholder {
    @Test func builds() { #expect(Bool(true)) }
}
