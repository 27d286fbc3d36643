import Testing

@Suite struct MoatReconcileTestsPlaceholder {
    @Test func builds() { #expect(Bool(true)) }
}
