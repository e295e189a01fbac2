/// The `eth_getLogs` ranges of one pass, one at a time: the block space from `origin` cut into consecutive
/// ranges of `width` blocks, and per token and authorizer, each range some payment's window meets, with the
/// payments whose window meets it.
///
/// Produced lazily, so a pass holds only the queries it is about to send: a window from an early `fromBlock`
/// on a long chain is tens of thousands of ranges, and each query names up to 500 nonces.
struct LogRangePlan {
    /// One range to ask about for some payments of one token and authorizer.
    struct Range: Equatable {
        /// The payments (indices into the pass's used payments), in order.
        var members: [Int]
        /// The range's first and last block, narrowed to what the members' windows cover.
        var blocks: ClosedRange<UInt64>
    }

    private struct Member {
        var index: Int
        var window: ClosedRange<UInt64>
        var first: UInt64  // the range numbers the window meets
        var last: UInt64
    }

    private let origin: UInt64
    private let width: UInt64
    private let groups: [[Member]]  // each sorted by first range
    private var group = 0
    private var position = 0  // the next member of the group to become active
    private var active: [Member] = []
    private var range: UInt64 = 0

    /// A plan for `groups` (per token and authorizer, indices into `windows`), every window inside
    /// `[origin, …]`, in ranges of `width` (at least 1) blocks.
    init(origin: UInt64, width: UInt64, groups: [[Int]], windows: [ClosedRange<UInt64>]) {
        self.origin = origin
        self.width = width
        self.groups = groups.map { members in
            members.map { index in
                Member(
                    index: index, window: windows[index], first: (windows[index].lowerBound - origin) / width,
                    last: (windows[index].upperBound - origin) / width)
            }.sorted { ($0.first, $0.index) < ($1.first, $1.index) }
        }
    }

    /// How many ranges `window` takes.
    static func count(_ window: ClosedRange<UInt64>, origin: UInt64, width: UInt64) -> UInt64 {
        (window.upperBound - origin) / width - (window.lowerBound - origin) / width + 1
    }

    /// The next range, in order of group then block; nil when every window is covered.
    mutating func next() -> Range? {
        while group < groups.count {
            let members = groups[group]
            if active.isEmpty {
                guard position < members.count else {
                    group += 1
                    position = 0
                    continue
                }
                range = members[position].first  // skip the ranges no window meets
            }
            while position < members.count, members[position].first <= range {
                active.append(members[position])
                position += 1
            }
            let start = origin + range * width
            let end = start + min(width - 1, UInt64.max - start)
            let found = Range(
                members: active.map(\.index).sorted(),
                blocks: max(
                    start, active.map(\.window.lowerBound).min() ?? start)...min(
                        end, active.map(\.window.upperBound).max() ?? end))
            if range == .max {
                active.removeAll()
            } else {
                range += 1
                active.removeAll { $0.last < range }
            }
            return found
        }
        return nil
    }
}
