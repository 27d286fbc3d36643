import Foundation
import Testing

@testable import MoatCore

@Suite("JSONReader: nft's listings as plain Swift values")
struct JSONReaderTests {
    /// The same value as Foundation reads it, compared as sorted-key JSON text.
    static func text(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]), as: UTF8.self)
    }

    @Test(
        "reads what JSONSerialization reads, to the same values",
        arguments: [
            #"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"rule": {"expr": [{"accept": null}], "handle": 4}}]}"#,
            #"[1, -2, 0, 3.5, -0.25e2, 1E3, 9223372036854775807, true, false, null, "", {}, []]"#,
            #"{"a\"b\\c\/d": "\b\f\n\r\t é \u00e9 \u20ac \ud83d\ude00", "nested": {"x": [[[]]], "y": {"z": {}}}}"#,
            " \t\r\n{ \"space\" : [ 1 , 2 ] } \n",
        ])
    func agrees(_ json: String) throws {
        let ours = try #require(JSONReader.value(json))
        let foundation = try JSONSerialization.jsonObject(with: Data(json.utf8))
        #expect(try Self.text(ours) == Self.text(foundation))
    }

    @Test(
        "anything that is not JSON is nil",
        arguments: [
            "", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{1: 2}", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[+1]",
            "[tru]", "[nul]", "\"open", "\"a\tb\"", "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"",
            "{} {}", "[1] x", "NaN", "[Infinity]",
        ])
    func rejects(_ json: String) {
        #expect(JSONReader.value(json) == nil, "\(json)")
    }

    @Test("integers are Int, others Double; nesting is bounded")
    func numbersAndDepth() throws {
        let values = try #require(JSONReader.value("[7, 7.0, 1e2, 99999999999999999999]") as? [Any])
        #expect(values[0] as? Int == 7)
        #expect(values[1] as? Double == 7.0 && values[1] as? Int == nil)
        #expect(values[2] as? Double == 100)
        #expect(values[3] as? Double == 1e20)
        let deep = JSONReader.maxDepth
        #expect(JSONReader.value(String(repeating: "[", count: deep - 1) + String(repeating: "]", count: deep - 1)) != nil)
        #expect(JSONReader.value(String(repeating: "[", count: deep + 1) + String(repeating: "]", count: deep + 1)) == nil)
        #expect(JSONReader.value(String(repeating: "[", count: 100_000)) == nil)
    }
}
