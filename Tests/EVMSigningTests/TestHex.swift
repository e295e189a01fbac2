// Hex helpers for the tests (the module's own helpers are internal on purpose).
func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

func hexBytes(_ text: String) -> [UInt8] {
    var characters = Array(text.utf8)
    if characters.starts(with: Array("0x".utf8)) { characters.removeFirst(2) }
    precondition(characters.count % 2 == 0, "odd hex in a test fixture")
    var bytes: [UInt8] = []
    var index = 0
    while index < characters.count {
        bytes.append(UInt8(String(decoding: characters[index...index + 1], as: UTF8.self), radix: 16)!)
        index += 2
    }
    return bytes
}
