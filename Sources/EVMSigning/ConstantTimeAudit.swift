import Synchronization

/// The declassification hook of the constant-time check (`Tests/CTime`, run under valgrind memcheck).
///
/// The check marks the private key undefined and signs; memcheck then reports every branch, table index or
/// system call that depends on it. Signing must still branch on a few values that are public by the time it
/// looks at them: the nonce candidate's validity bit (RFC 6979 step h.3), the x-coordinate of R (that is r),
/// the finished s, s⁻¹, the recovery id and the lifted R (all given away by the signature), and the public
/// key. At exactly those points signing calls ``Hook/declassify(_:)``, which calls the installed function
/// (memcheck's `VALGRIND_MAKE_MEM_DEFINED`) on the value's bytes, as libsecp256k1 does with its context's
/// declassify flag. Without an installed function (always, outside that check) it does nothing, so the
/// audited code is the production code, not a specialisation of it.
package enum ConstantTimeAudit {
    /// A function that marks `count` bytes at the pointer as public.
    package typealias Declassifier = @convention(c) (UnsafeMutableRawPointer?, Int) -> Void

    private static let installed = Mutex<Declassifier?>(nil)

    /// Installs (or, with nil, removes) the declassifier. Only the constant-time check calls this.
    package static func install(_ declassifier: Declassifier?) {
        installed.withLock { $0 = declassifier }
    }

    /// The hook for one operation (read once, so a signature takes the lock once).
    static var hook: Hook { Hook(declassifier: installed.withLock { $0 }) }

    /// A copy of the installed declassifier, passed down one signing operation.
    struct Hook {
        let declassifier: Declassifier?

        /// Marks `value` public. Works on the variable itself, not a copy: memcheck tracks definedness per
        /// byte of memory, and the opaque call makes the compiler reload the value afterwards.
        @inline(__always)
        func declassify<Value>(_ value: inout Value) {
            guard let declassifier else { return }
            withUnsafeMutableBytes(of: &value) { bytes in declassifier(bytes.baseAddress, bytes.count) }
        }
    }

    /// s⁻¹ mod n for 32 big-endian bytes, by the constant-time divsteps inverse that signing uses, or (with
    /// `variableTime`) by the binary extended Euclid that only recovery may use. The check runs both on a
    /// secret input: the first must pass, the second must be reported (it proves the check can fail).
    package static func inverse(of bytes: [UInt8], variableTime: Bool) -> [UInt8] {
        guard let value = UInt256(bigEndianBytes: bytes) else { return [] }
        let scalar = Scalar(reducing: value)
        return (variableTime ? scalar.inverseVariableTime() : scalar.inverseDivsteps()).bigEndianBytes
    }
}
