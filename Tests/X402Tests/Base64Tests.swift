import Testing
import X402

@Suite("Strict standard base64")
struct Base64Tests {
    // RFC 4648 §10 test vectors.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ]

    @Test("encodes and decodes the RFC 4648 vectors", arguments: Base64Tests.vectors)
    func roundTrip(plain: String, encoded: String) throws {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(try Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test("uses + and / (never base64url) for high bytes")
    func alphabet() throws {
        #expect(Base64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
        #expect(try Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
    }

    @Test(
        "refuses anything but canonical padded standard base64",
        arguments: [
            "Zg", "Zm8", "Zg=", "-_-_", "Zm9v\n", " Zm9v", "Zm=v", "Z===", "Zh==", "Zm9=", "Zg==Zg==", "Zm9vYg=A",
        ])
    func refuses(text: String) {
        #expect(throws: X402Error.self) { _ = try Base64.decode(text) }
    }
}
