import Cedar
import Testing

/// Entity and context JSON rules (reference/cedar.md §2.7, each answer observed from cedarpy 4.12.2).
@Suite("Entities and data JSON")
struct EntitiesTests {
    static func entity(attrs: String) -> String {
        #"[{"uid": {"type": "A", "id": "a"}, "attrs": \#(attrs), "parents": []}]"#
    }

    static let rejected: [(String, String)] = [
        ("a float", entity(attrs: #"{"x": 1.0}"#)),
        ("an exponent", entity(attrs: #"{"x": 1e2}"#)),
        ("minus zero", entity(attrs: #"{"x": -0}"#)),
        ("null", entity(attrs: #"{"x": null}"#)),
        ("an integer beyond 64 bits", entity(attrs: #"{"x": 9223372036854775808}"#)),
        ("a duplicate key", entity(attrs: #"{"x": 1, "x": 2}"#)),
        ("an unknown extension", entity(attrs: #"{"x": {"__extn": {"fn": "nope", "arg": "1"}}}"#)),
        ("a malformed decimal", entity(attrs: #"{"x": {"__extn": {"fn": "decimal", "arg": "1"}}}"#)),
        ("a missing attrs", #"[{"uid": {"type": "A", "id": "a"}, "parents": []}]"#),
        ("a missing parents", #"[{"uid": {"type": "A", "id": "a"}, "attrs": {}}]"#),
        ("an invalid type name", #"[{"uid": {"type": "A B", "id": "a"}, "attrs": {}, "parents": []}]"#),
        (
            "a duplicate uid",
            #"[{"uid": {"type": "A", "id": "a"}, "attrs": {}, "parents": []}, {"uid": {"type": "A", "id": "a"}, "attrs": {}, "parents": []}]"#
        ),
        (
            "a cycle",
            #"[{"uid": {"type": "A", "id": "a"}, "attrs": {}, "parents": [{"type": "A", "id": "b"}]}, {"uid": {"type": "A", "id": "b"}, "attrs": {}, "parents": [{"type": "A", "id": "a"}]}]"#
        ),
        ("a self parent", #"[{"uid": {"type": "A", "id": "a"}, "attrs": {}, "parents": [{"type": "A", "id": "a"}]}]"#),
    ]

    @Test("refuses what Cedar refuses", arguments: rejected)
    func refuses(_ what: String, _ json: String) {
        #expect(throws: CedarDataError.self, "\(what)") { try Entities(json: json) }
    }

    @Test("accepts the most negative 64-bit integer and both uid forms")
    func accepts() throws {
        let store = try Entities(
            json:
                #"[{"uid": {"__entity": {"type": "A", "id": "a"}}, "attrs": {"x": -9223372036854775808}, "parents": []}]"#
        )
        let entity = try #require(store[EntityUID(type: "A", id: "a")])
        #expect(entity.attributes["x"] == .long(Int64.min))
    }

    @Test("escapes: __entity and __extn only when alone; a bare {type, id} is a record")
    func escapes() throws {
        let value = try CedarData.value(
            try CedarJSON.parse(
                #"{"e": {"__entity": {"type": "A", "id": "b"}}, "r": {"type": "A", "id": "b"}, "d": {"__extn": {"fn": "decimal", "args": ["1.5"]}}, "x": {"__entity": {"type": "A", "id": "b"}, "y": 1}}"#
            ))
        guard case .record(let fields) = value else {
            Issue.record("not a record")
            return
        }
        #expect(fields["e"] == .entity(EntityUID(type: "A", id: "b")))
        #expect(fields["r"] == .record(["type": .string("A"), "id": .string("b")]))
        #expect(fields["d"] == .decimal(CedarDecimal(scaled: 15_000)))
        if case .record = fields["x"] {} else { Issue.record("an escape with extra keys must be a record") }
    }

    @Test("an extension value Cedar refuses (bad argument, unknown function) is invalid data, never guessed")
    func invalidExtensionValues() {
        for function in ["ip", "datetime", "duration", "decimal", "ipaddr"] {
            let json = EntitiesTests.entity(attrs: #"{"x": {"__extn": {"fn": "\#(function)", "arg": "1"}}}"#)
            let error = #expect(throws: CedarDataError.self) { try Entities(json: json) }
            #expect(error?.code == .invalid)
        }
    }

    @Test("ancestors are the transitive closure of parents, through entities that exist")
    func closure() throws {
        let store = try Entities(
            json: """
                [{"uid": {"type": "U", "id": "u"}, "attrs": {}, "parents": [{"type": "G", "id": "g1"}]},
                 {"uid": {"type": "G", "id": "g1"}, "attrs": {}, "parents": [{"type": "G", "id": "g2"}, {"type": "G", "id": "ghost"}]},
                 {"uid": {"type": "G", "id": "g2"}, "attrs": {}, "parents": [{"type": "G", "id": "g3"}]}]
                """)
        let ancestors = try #require(store[EntityUID(type: "U", id: "u")]).ancestors
        #expect(ancestors == Set(["g1", "g2", "g3", "ghost"].map { EntityUID(type: "G", id: $0) }))
    }

    @Test("decimal syntax and range")
    func decimals() {
        #expect(CedarDecimal(parsing: "1.0")?.scaled == 10_000)
        #expect(CedarDecimal(parsing: "-0.0001")?.scaled == -1)
        #expect(CedarDecimal(parsing: "922337203685477.5807")?.scaled == Int64.max)
        #expect(CedarDecimal(parsing: "-922337203685477.5808")?.scaled == Int64.min)
        for bad in ["1", ".5", "1.", "1.23456", "+1.0", "1e2", "922337203685477.5808", "1.0.0", " 1.0", "١.٠"] {
            #expect(CedarDecimal(parsing: bad) == nil, "\(bad)")
        }
        #expect(CedarDecimal(scaled: 500).description == "0.0500")
        #expect(CedarDecimal(scaled: -15_000).description == "-1.5000")
    }

    @Test("Cedar strings keep distinct code points distinct")
    func strings() {
        let composed = CedarString("\u{e9}")
        let decomposed = CedarString("e\u{301}")
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
        #expect(CedarValue.set([.string(composed), .string(decomposed)]) != .set([.string(composed)]))
    }
}
