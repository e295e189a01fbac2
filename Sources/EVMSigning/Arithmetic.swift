// Word-level helpers shared by the field and scalar code. Every helper is straight-line: carries and
// selections are computed with arithmetic and masks, never with branches on the values.
//
// The optimiser is free to turn a mask it can prove to be 0 or all ones back into a branch (it did: the
// masked table scan of k·G compiled to "if the digit matches, load the entry"). Masks that select on
// secrets therefore pass through ``opaqueZero()``, which the optimiser cannot see through; the valgrind check
// (Tests/CTime) shows whether a build still branches.
import Synchronization

/// Always zero, but the optimiser cannot know it: it is read with a relaxed atomic load (an ordinary load on
/// x86-64 and arm64), which Swift's optimiser does not fold, and it is `internal`, not `private`, so that LLVM
/// cannot fold it either. A `private` global becomes an LLVM global of local linkage, and LLVM may take one
/// that nothing in its module stores to for a constant and replace the loads by 0. That happened when
/// EVMSigning and a `main` were compiled in one LLVM module (`swiftc -O -wmo` without `-num-threads`): the
/// loads were gone and memcheck reported the k·G scan's masks as branches again (34,400 errors from 4
/// contexts in `generatorSecret`). An `internal` global has non-local (hidden) linkage, so LLVM must assume
/// another object file of the program may write it, and the loads stay. SwiftPM's release build, which
/// splits the module into one LLVM module per file, kept the loads either way. `scripts/ctime-check` audits
/// both builds. Not covered: link-time optimisation, which internalises hidden symbols and could fold it again
/// (nothing here builds with LTO; the check would have to be run on such a build).
let opaqueZeroStorage = Atomic<UInt64>(0)

/// A zero unknown to the optimiser. XOR it into a mask (`mask ^ zero`) and the optimiser can no longer prove
/// that the mask is 0 or all ones, so it cannot turn the masked selection into a branch. Read it once per
/// operation, outside loops.
@inline(__always)
func opaqueZero() -> UInt64 {
    opaqueZeroStorage.load(ordering: .relaxed)
}

/// Eight 64-bit limbs of a 512-bit product, little-endian.
typealias Wide = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

/// a·b + acc + carry; returns the low word and leaves the high word in `carry`. Never overflows 128 bits.
@inline(__always)
func mac(_ a: UInt64, _ b: UInt64, _ acc: UInt64, _ carry: inout UInt64) -> UInt64 {
    let product = a.multipliedFullWidth(by: b)
    let (low1, overflow1) = product.low.addingReportingOverflow(acc)
    let (low2, overflow2) = low1.addingReportingOverflow(carry)
    carry = product.high &+ UInt64(overflow1 ? 1 : 0) &+ UInt64(overflow2 ? 1 : 0)
    return low2
}

/// a + b + carry; returns the low word and leaves the carry (0, 1 or 2) in `carry`.
@inline(__always)
func adc(_ a: UInt64, _ b: UInt64, _ carry: inout UInt64) -> UInt64 {
    let (sum1, overflow1) = a.addingReportingOverflow(b)
    let (sum2, overflow2) = sum1.addingReportingOverflow(carry)
    carry = UInt64(overflow1 ? 1 : 0) &+ UInt64(overflow2 ? 1 : 0)
    return sum2
}

/// a − b − borrow; returns the low word and leaves the borrow (0 or 1) in `borrow`.
@inline(__always)
func sbb(_ a: UInt64, _ b: UInt64, _ borrow: inout UInt64) -> UInt64 {
    let (difference1, underflow1) = a.subtractingReportingOverflow(b)
    let (difference2, underflow2) = difference1.subtractingReportingOverflow(borrow)
    borrow = UInt64(underflow1 ? 1 : 0) | UInt64(underflow2 ? 1 : 0)
    return difference2
}

/// All ones when `bit` is 1, zero when it is 0.
@inline(__always)
func maskFromBit(_ bit: UInt64) -> UInt64 {
    0 &- bit
}

/// All ones when `value` is zero, else zero.
@inline(__always)
func maskIfZero(_ value: UInt64) -> UInt64 {
    ((value | (0 &- value)) >> 63) &- 1
}

/// The full 512-bit product of two 256-bit numbers (schoolbook, operand scanning).
@inline(__always)
func multiplyWide(
    _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64,
    _ b0: UInt64, _ b1: UInt64, _ b2: UInt64, _ b3: UInt64
) -> Wide {
    var c: UInt64 = 0
    let r0 = mac(a0, b0, 0, &c)
    var r1 = mac(a0, b1, 0, &c)
    var r2 = mac(a0, b2, 0, &c)
    var r3 = mac(a0, b3, 0, &c)
    var r4 = c
    c = 0
    r1 = mac(a1, b0, r1, &c)
    r2 = mac(a1, b1, r2, &c)
    r3 = mac(a1, b2, r3, &c)
    r4 = mac(a1, b3, r4, &c)
    var r5 = c
    c = 0
    r2 = mac(a2, b0, r2, &c)
    r3 = mac(a2, b1, r3, &c)
    r4 = mac(a2, b2, r4, &c)
    r5 = mac(a2, b3, r5, &c)
    var r6 = c
    c = 0
    r3 = mac(a3, b0, r3, &c)
    r4 = mac(a3, b1, r4, &c)
    r5 = mac(a3, b2, r5, &c)
    r6 = mac(a3, b3, r6, &c)
    let r7 = c
    return (r0, r1, r2, r3, r4, r5, r6, r7)
}

/// The full 512-bit square of a 256-bit number: cross products once, doubled, plus the diagonal.
@inline(__always)
func squareWide(_ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64) -> Wide {
    // Cross products a_i·a_j for i < j.
    var c: UInt64 = 0
    let x1 = mac(a0, a1, 0, &c)
    let x2 = mac(a0, a2, 0, &c)
    var x3 = mac(a0, a3, 0, &c)
    var x4 = c
    c = 0
    x3 = mac(a1, a2, x3, &c)
    x4 = mac(a1, a3, x4, &c)
    var x5 = c
    c = 0
    x5 = mac(a2, a3, x5, &c)
    let x6 = c
    // Double them (shift left by one bit across limbs).
    let y7 = x6 >> 63
    let y6 = x6 << 1 | x5 >> 63
    let y5 = x5 << 1 | x4 >> 63
    let y4 = x4 << 1 | x3 >> 63
    let y3 = x3 << 1 | x2 >> 63
    let y2 = x2 << 1 | x1 >> 63
    let y1 = x1 << 1
    // Add the squares a_i² on the diagonal.
    let d0 = a0.multipliedFullWidth(by: a0)
    let d1 = a1.multipliedFullWidth(by: a1)
    let d2 = a2.multipliedFullWidth(by: a2)
    let d3 = a3.multipliedFullWidth(by: a3)
    c = 0
    let r0 = d0.low
    let r1 = adc(y1, d0.high, &c)
    let r2 = adc(y2, d1.low, &c)
    let r3 = adc(y3, d1.high, &c)
    let r4 = adc(y4, d2.low, &c)
    let r5 = adc(y5, d2.high, &c)
    let r6 = adc(y6, d3.low, &c)
    let r7 = adc(y7, d3.high, &c)
    return (r0, r1, r2, r3, r4, r5, r6, r7)
}
