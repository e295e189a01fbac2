/// Block numbers by time, from block headers: where on chain an EIP-3009 authorization can have been used.
///
/// Each question ("the first block after time t", "the last block before time t") is a binary search over
/// the headers of `[low, final]`, since block timestamps never decrease. All questions of one pass search in
/// lockstep, so each round's header requests go in one `callMany`; the headers read are kept for the pass
/// (questions close in time share most of their path). The final block's header is known from the start.
///
/// The node's headers are hostile input: each must be the block asked for (`Call.blockResult`), and the
/// headers read must never go back in time (a higher block with an earlier timestamp). A node caught going
/// back answers no question of the pass: which of its headers lie is unknown.
struct BlockTimeSearch {
    /// One question about the chain's timeline.
    enum Question: Hashable, Comparable {
        /// The first block whose timestamp is after (`>`) this time.
        case firstAfter(UInt64)
        /// The last block whose timestamp is before (`<`) this time.
        case lastBefore(UInt64)

        /// True for the blocks at and after the boundary the question's answer is next to: the search finds
        /// the first block for which this holds (timestamps never decrease, so it holds from there on).
        func isPast(_ timestamp: UInt64) -> Bool {
            switch self {
            case .firstAfter(let time): return timestamp > time
            case .lastBefore(let time): return timestamp >= time
            }
        }
    }

    private let rpc: EthereumRPC
    private let low: UInt64
    private let final: BlockHeader
    /// Timestamps of the headers read this pass, by block number.
    private(set) var timestamps: [UInt64: UInt64]

    /// A search over `[low, final.number]` (`low` at most the final block's number).
    init(rpc: EthereumRPC, low: UInt64, final: BlockHeader) {
        self.rpc = rpc
        self.low = low
        self.final = final
        timestamps = [final.number: final.timestamp]
    }

    /// Each question's answer: a block number in `[low, final]`, nil when no block there is one (nothing
    /// after the time by the final block, or nothing before it from `low`), or the error that left it
    /// unanswered.
    mutating func answer(_ questions: Set<Question>) async -> [Question: Result<UInt64?, ChainError>] {
        // Per question, the first block past its boundary lies in [lower, upper]; upper + 1 means none.
        var bounds: [Question: (lower: UInt64, upper: UInt64)] = [:]
        // The first block past the boundary; a question absent here with no bounds has none by the final
        // block (no `final + 1`: a node may name block 2^64 - 1 as final).
        var found: [Question: UInt64] = [:]
        var failed: [Question: ChainError] = [:]
        for question in questions {
            if question.isPast(final.timestamp) { bounds[question] = (low, final.number) }
        }
        while !bounds.isEmpty {
            // Settle what the headers read so far decide; each search then needs one header, its midpoint.
            var needed: Set<UInt64> = []
            for (question, range) in bounds {
                if range.lower == range.upper {
                    found[question] = range.lower
                    bounds[question] = nil
                    continue
                }
                let middle = range.lower + (range.upper - range.lower) / 2
                if let timestamp = timestamps[middle] {
                    bounds[question] =
                        question.isPast(timestamp) ? (range.lower, middle) : (middle + 1, range.upper)
                } else {
                    needed.insert(middle)
                }
            }
            guard !needed.isEmpty else { continue }
            let numbers = needed.sorted()
            var missing: [UInt64: ChainError] = [:]
            for (number, answer) in zip(numbers, await rpc.callMany(numbers.map { EthereumRPC.Call.block(number: $0) }))
            {
                switch answer.flatMap({ result in
                    Result { () throws(ChainError) in try EthereumRPC.Call.blockResult(result, number: number) }
                }) {
                case .success(let header): timestamps[header.number] = header.timestamp
                case .failure(let error): missing[number] = error
                }
            }
            if let backwards = goesBack() {
                return Dictionary(uniqueKeysWithValues: questions.map { ($0, .failure(backwards)) })
            }
            // A search whose header could not be had ends with that error; the others go on.
            for (question, range) in bounds {
                let middle = range.lower + (range.upper - range.lower) / 2
                if let error = missing[middle] {
                    failed[question] = error
                    bounds[question] = nil
                }
            }
        }
        var answers: [Question: Result<UInt64?, ChainError>] = [:]
        for question in questions {
            if let error = failed[question] {
                answers[question] = .failure(error)
                continue
            }
            let first = found[question]
            switch question {
            case .firstAfter: answers[question] = .success(first)
            case .lastBefore: answers[question] = .success(first.map { $0 > low ? $0 - 1 : nil } ?? final.number)
            }
        }
        return answers
    }

    /// An error when the headers read go back in time: a higher block with an earlier timestamp.
    private func goesBack() -> ChainError? {
        var previous: (number: UInt64, timestamp: UInt64)?
        for (number, timestamp) in timestamps.sorted(by: { $0.key < $1.key }) {
            if let previous, timestamp < previous.timestamp {
                return ChainError(
                    .invalidAnswer,
                    "eth_getBlockByNumber: block \(number) has timestamp \(timestamp), before block "
                        + "\(previous.number)'s \(previous.timestamp)")
            }
            previous = (number, timestamp)
        }
        return nil
    }
}
