import Foundation
import JSONCore
import PurserVault
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The buffered frame reader: frames that arrive together, split, or broken.
@Suite struct FrameChannelTests {
    private func frame(_ json: String) -> [UInt8] {
        let body = Array(json.utf8)
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
            + body
    }

    /// Writes `chunks` one `write(2)` each into a socket pair and returns what the reader made of them.
    private func read(_ chunks: [[UInt8]]) async -> [String] {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
            Issue.record("socketpair failed")
            return []
        }
        let channel = FrameChannel(descriptor: pair[0])
        let stream = channel.frames()
        for chunk in chunks {
            _ = chunk.withUnsafeBytes { write(pair[1], $0.baseAddress, $0.count) }
        }
        close(pair[1])
        var seen: [String] = []
        for await item in stream {
            switch item {
            case .frame(let object): seen.append(JSONValue.object(object).serialized())
            case .violation(let message): seen.append("violation: \(message)")
            }
        }
        return seen
    }

    @Test("two frames in one write, a frame split in three writes, then a frame that breaks the protocol")
    func framesSurviveAnyChunking() async {
        let first = frame(#"{"a":1}"#)
        let second = frame(#"{"b":"two"}"#)
        let third = frame(#"{"c":[3]}"#)
        let seen = await read([
            first + second, Array(third[0..<2]), Array(third[2..<7]), Array(third[7...]), frame("[1]"),
            frame(#"{"never":"read"}"#),
        ])
        #expect(seen == [#"{"a":1}"#, #"{"b":"two"}"#, #"{"c":[3]}"#, "violation: a frame must be a JSON object"])
    }

    @Test("a length outside 1…16 MiB is a violation before any body is read")
    func oversizedLength() async {
        #expect(
            await read([[0x01, 0x00, 0x00, 0x01]]) == ["violation: a frame of 16777217 bytes is outside 1…16777216"])
        #expect(await read([[0, 0, 0, 0]]) == ["violation: a frame of 0 bytes is outside 1…16777216"])
        // A peer that stops mid-frame: nothing is made up from the half frame.
        #expect(await read([Array(frame(#"{"a":1}"#).prefix(6))]) == [])
    }
}
