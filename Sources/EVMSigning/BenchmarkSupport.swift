/// Timing hooks for `purser-bench signing`. They return only durations: no signature made without the
/// self-check ever leaves the module.
public enum SigningBenchmarkSupport {
    /// Times `PrivateKey.sign` without its recover-and-compare step, once per digest, in nanoseconds.
    public static func uncheckedSigningTimes(key: PrivateKey, digests: [[UInt8]]) throws(SigningError) -> [Int64] {
        let clock = ContinuousClock()
        var times: [Int64] = []
        times.reserveCapacity(digests.count)
        var checksum: UInt8 = 0
        for digest in digests {
            let start = clock.now
            let (signature, _, _) = try key.signUnchecked(digest: digest)
            let elapsed = clock.now - start
            checksum ^= signature.r[0]
            times.append(elapsed.components.attoseconds / 1_000_000_000 + elapsed.components.seconds * 1_000_000_000)
        }
        // Keeps the work observable so the optimiser cannot drop it.
        if checksum == 0 && digests.isEmpty { times.append(0) }
        return times
    }
}
